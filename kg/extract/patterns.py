"""Regular expressions for the entity types that have a shape: sizes, quantities, model numbers, standards and
ratings, and the devices a product is "compatible with". Lexicons (:mod:`kg.extract.lexicon`) cover the rest.

Standards (``ISO 9001``, ``1/4" NPT``, ``UL Listed``, ``IP67``, ``ANSI/ISEA 105``, ``NRR 32``, stainless grades
``316L``) and electrical or mechanical ratings (``600V``, ``15A``, ``1500W``, ``14 AWG``, ``3000 PSI``, ``600 WOG``,
``800 ft-lbs``) are features of the product, not its model number: they are
found as ``feature`` spans, and the model-number finder leaves them alone.

Each finder yields ``(type, start, end, confidence)`` over one text; overlaps between finders are resolved by
the caller (patterns outrank lexicon matches, longer spans outrank shorter ones).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kg.extract.schema import EntityType

Span = tuple[EntityType, int, int, float]

_FRACTIONS = "½¼¾⅓⅔⅛⅜⅝⅞"
_ONE_NUM = rf"(?:\d+(?:[.,]\d+)?(?:[\s-]+\d+/\d+|\s?[{_FRACTIONS}])?|\d+/\d+|\.\d+|[{_FRACTIONS}])"
#: A number, a fraction (``8 1/2``, ``8½``) or a range of them (``0-6``, ``3 to 5``, ``10\u201320``).
_NUM = rf"(?:{_ONE_NUM}(?:\s*(?:-|\u2013|to)\s*{_ONE_NUM}(?=\s*[^\d\s-]))?)"
_UNIT = (
    r"(?:fl\.?\s*oz\.?|fluid\s+ounces?|oz\.?|ounces?|ml|milliliters?|mm|millimeters?|cm|centimeters?|"
    r"[µμu]m(?=\W|$)|microns?|micrometers?|[µμu]l(?=\W|$)|microliters?|"
    r"inch(?:es)?|in\.?(?!\s*1\b)(?=[\s,;)/]|$)|\"|''|”|″|ft\.?(?=\W|$)|feet|foot|'(?!s\b)|lbs?\.?(?=\W|$)|pounds?|"
    r"(?<!-)(?-i:g)(?=[\s,;)]|$)|grams?|kg|yards?|yds?\.?(?=\W|$)|liters?|litres?|gallons?|mil(?=\W|$)|gsm|m(?=[\s,;)]|$))"
)
_TIMES = "[xX\u00d7]"
_SIZE_DIM = re.compile(
    rf"(?<![\w.#]){_NUM}\s*(?:-\s*)?{_UNIT}?\s*{_TIMES}\s*{_NUM}\s*(?:-\s*)?{_UNIT}?(?:\s*{_TIMES}\s*{_NUM}\s*{_UNIT}?)?"
    r"(?![\w])",
    re.I,
)
# Metric thread sizes (M6, M6 x 20mm) and ranges with a unit at both ends (1/16" to 1/2").
_SIZE_METRIC = re.compile(r"(?<![\w.-])M\d{1,2}(?:\.\d+)?(?:\s*[xX\u00d7]\s*\d+(?:\.\d+)?\s*mm)?(?![\w-])")
_HAS_UNIT = re.compile(rf"\d\s*(?:-\s*)?{_UNIT}", re.I)
_SIZE_ONE = re.compile(rf"(?<![\w.]){_NUM}\s*(?:-\s*)?{_UNIT}", re.I)
_SIZE_RANGE = re.compile(rf"(?<![\w.]){_ONE_NUM}\s*{_UNIT}\s*(?:-|\u2013|to)\s*{_ONE_NUM}\s*{_UNIT}", re.I)
_SIZE_NAMED = re.compile(r"\b(?:letter|legal|tabloid|ledger|executive|travel|full|a[3-6]|jumbo|pocket|mini)"
                         r"[\s-]size[d]?\b|\bA[3-6]\b|\b\d+(?:\.\d+)?\s*(?:-\s*)?(?:point|pt)\s+(?:font|type)\b", re.I)

_COUNT_UNITS = (
    r"count|ct|packs?|pk|pcs|pc|pieces?|sheets?|sets?|rolls?|pads?|pairs?|strips?|colou?rs|colou?red|colou?r|shades|"
    r"boxes|box|dozen|units?|tablets?|reams?|sticks|bottles?|tubes?|refills?|capsules|cartons?|bags?|packets?|"
    r"labels?|envelopes?|cards?|tabs?|sheets/pad"
)
_QTY_UNIT = re.compile(
    rf"(?<![\w.#-]){_NUM}\s*(?:-\s*)?(?:{_COUNT_UNITS})\b(?:\s*/\s*(?:pack|pk|box|bx|pad|set|roll|tablet|pkg|case|ctn))?"
    r"(?!\s*capacity)",
    re.I,
)
_QTY_OF = re.compile(r"\b(?:pack|box|set|case|bag|carton|bundle|package|kit|lot|total) of \d+\b", re.I)
_QTY_PER = re.compile(r"(?<![\w.#-])\d+\s*(?:/|per)\s*(?:pack|pk|box|bx|pkg|case|set|ctn|carton)\b", re.I)
#: "12 Pens": the number is the quantity, the noun is the product type.
_QTY_BARE = re.compile(
    r"(?<![\w.,/#-])\d{1,4}(?=\s*-?\s*(?:[A-Z][a-z]+\s+){0,2}(?:staples|refills|jackets|rolls|pockets|pens|pencils|markers|highlighters|crayons|erasers|notebooks|folders|"
    r"binders|brushes|sponges|clips|stickers|dividers|cartridges|mailers|pouches|bags|jars|bottles|wipes|lashes|"
    r"pairs|combs|rollers|curlers|pins|nails|files|buffers|tubes|brushes|sheets?\b|labels|envelopes|cards|tabs)\b)",
    re.I,
)
_STANDARD = re.compile(
    r"(?<![\w-])(?:(?:ISO|ANSI|ASTM|DIN|IEC|ASME|NSF|SAE|JIS|BS|EN|NEMA|MIL-(?:STD|SPEC)|CSA|AWS|ISEA)"
    r"(?:/(?:ISO|ANSI|ISEA|IEC|EN|DIN|ASTM))?[\s-]?[A-Z]?\d[\w.:/-]*"
    r"|(?:[FM]?NPTF?|NPS|BSPP?|BSPT|UNC|UNF|NPSM|SAE|JIC|ORFS|VDE)(?![\w-])|UL[\s-]?(?:Listed|Certified|\d{2,4}[A-Z]?)|"
    r"NRR[\s-]?\d{1,2}|(?:ANSI\s+)?Cut\s+Level\s+A[1-9]|Level\s+A[1-9]|(?:304|316|410|18-8)L?(?=\s+Stainless)|"
    r"IP(?:X?\d{1,2}|\d{2})|FDA[\s-](?:Approved|Compliant|Grade)|Cat[\s-]?[5-8][aAeE]?(?![\w-])|"
    r"RoHS|(?:Energy Star|CE|ETL|cUL) (?:Certified|Listed|Marked))(?![\w-])",
    re.I,
)
_RATING_UNITS = (r"VAC|VDC|kV|mV|mA|Amps?|kW|Watts?|Volts?|mAh|Ah|AWG|Gauge|PSI|WOG|CWP|Hz|kHz|MHz|GHz|RPM|BTU|dB|"
                 r"(?:ft|in)[.-]?\s?lbs?\.?|N[·.]?m|Megohms?|kOhms?|Ohms?")
# One-letter units (600V, 15A, 1500W) only when written against the number: "2 A Batteries" is not a rating.
# A rating's number is short and has no leading zero: "01407A" is a part number.
_RATING_NUM = r"(?:[1-9]\d{0,4}|0)(?:\.\d+)?"
_RATING = re.compile(rf"(?<![\w.-]){_RATING_NUM}(?:\s*(?:-|/)\s*{_RATING_NUM})?"
                     rf"(?:[VAW]|\s?(?:{_RATING_UNITS}))(?![\w-])")
_CAPACITY = re.compile(r"(?<![\w.])\d+\s*(?:-\s*)?(?:sheets?|pages?)\s+capacity\b", re.I)

# Model/part numbers: a token of letters and digits (both present), hyphens allowed inside; or a number
# of four or more digits in parentheses, as catalog titles end with "(17031)".
_MODEL = re.compile(r"(?<![\w./-])(?=[A-Za-z-]*\d)(?=[\d-]*[A-Za-z])[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*(?![\w/-])")
_MODEL_PAREN = re.compile(r"\((\d{4,}[A-Za-z]?|[A-Z0-9]{2,}(?:-[A-Z0-9]+)*)\)")
_NOT_MODEL = re.compile(
    r"^(?:\d+(?:st|nd|rd|th|s|x|xl|pk|ct|pcs|mm|cm|ml|oz|in|ft|lb|lbs|g|gb|mb|pc|d|k|mil|gsm|yr|hr|hrs|h|min|ply)"
    rf"|[1-9]\d{{0,4}}(?:\.\d+)?(?:[VW]|{_RATING_UNITS})|IPX?\d+|Cat[5-8][ae]?"
    r"|[a-z]\d?|[23]d|\d+-in-\d+|\d+(?:\.\d+)?x\d+(?:\.\d+)?|\d+[a-z]?-(?:pack|count|inch|ounce|piece|hole|ring|sheet|color|colour|tab|pocket)s?)$",
    re.I,
)

_DEVICE_WORDS = (
    r"iPhone|iPad|iPod|Galaxy|Kindle|MacBook|iMac|Mac|Surface|Chromebook|Cricut|Silhouette|HP|Canon|Epson|Brother|"
    r"Dymo|DYMO|Samsung|Apple|LaserJet|Laserjet|OfficeJet|Officejet|DeskJet|Deskjet|ENVY|Envy|PIXMA|Pixma|"
    r"WorkForce|Workforce|Expression|imageCLASS|Lexmark|Xerox|Ricoh|Kyocera|Zebra|Rollo|Brother|Nintendo|Xbox|"
    r"PlayStation|Fire|Pixel|Android|Windows|Rollerball|Cross|Parker|Lamy|Pilot|Waterman|Montblanc|Sheaffer"
)
_COMPAT = re.compile(
    r"\b(?:(?P<lead>compatible with|for use with|works with|work with|replacement for|replaces|designed for|fits)"
    r"|(?P<for>for))\s+(?:the\s+|use\s+(?:in|with)\s+|all\s+)?"
    r"(?P<run>(?:i?[A-Z][\w+]*(?:-[\w+]+)*|\d[\w+]*(?:-[\w+]+)*)(?:(?:\s|/|\s&\s)(?:i?[A-Z][\w+]*(?:-[\w+]+)*"
    r"|\d[\w+]*(?:-[\w+]+)*)){0,5})"
)
_DEVICE = re.compile(rf"^(?:{_DEVICE_WORDS})\b")


def sizes(text: str) -> Iterator[Span]:
    for m in _SIZE_DIM.finditer(text):
        dims = m.group().rstrip()
        if _HAS_UNIT.search(dims) or re.search(r"\d[./]\d", dims):
            yield EntityType.SIZE, m.start(), m.start() + len(dims), 0.9
        else:  # "6x10": a size more often than not, in a title
            yield EntityType.SIZE, m.start(), m.start() + len(dims), 0.6
    for m in _SIZE_ONE.finditer(text):
        yield EntityType.SIZE, m.start(), m.end(), 0.85
    for m in _SIZE_NAMED.finditer(text):
        yield EntityType.SIZE, m.start(), m.end(), 0.8
    for pattern in (_SIZE_METRIC, _SIZE_RANGE):
        for m in pattern.finditer(text):
            yield EntityType.SIZE, m.start(), m.end(), 0.85


def quantities(text: str) -> Iterator[Span]:
    for m in _CAPACITY.finditer(text):
        yield EntityType.FEATURE, m.start(), m.end(), 0.8
    for pattern, confidence in ((_QTY_UNIT, 0.85), (_QTY_OF, 0.9), (_QTY_PER, 0.85), (_QTY_BARE, 0.7)):
        for m in pattern.finditer(text):
            if not _CAPACITY.match(text, m.start()):
                yield EntityType.QUANTITY, m.start(), m.end(), confidence


def model_numbers(text: str) -> Iterator[Span]:
    for m in _MODEL.finditer(text):
        token = m.group()
        if len(token) >= 3 and not _NOT_MODEL.match(token):
            yield EntityType.MODEL_NUMBER, m.start(), m.end(), 0.75
    for m in _MODEL_PAREN.finditer(text):
        yield EntityType.MODEL_NUMBER, m.start(1), m.end(1), 0.85


def standards(text: str) -> Iterator[Span]:
    """Standards and ratings, as features (see the module docstring). A bare ampere rating (``30A``) counts
    only beside another rating: alone, ``83A`` is far more often a part number (HP 83A toner)."""
    for m in _STANDARD.finditer(text):
        yield EntityType.FEATURE, m.start(), m.end(), 0.85
    ratings = list(_RATING.finditer(text))
    other = any(not m.group().endswith("A") for m in ratings)
    for m in ratings:
        if other or not m.group().endswith("A"):
            yield EntityType.FEATURE, m.start(), m.end(), 0.8


def compatible(text: str) -> Iterator[Span]:
    for m in _COMPAT.finditer(text):
        run = m.group("run").rstrip(" ,/&")
        if m.group("lead") or re.search(r"\d", run) or _DEVICE.match(run):
            yield EntityType.COMPATIBLE_WITH, m.start("run"), m.start("run") + len(run), 0.7


def find_all(text: str) -> list[Span]:
    """Every span any pattern finds in ``text`` (overlapping; see :func:`kg.extract.lexicon.resolve`)."""
    return [*sizes(text), *quantities(text), *standards(text), *model_numbers(text), *compatible(text)]
