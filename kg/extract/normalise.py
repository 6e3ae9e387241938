"""Canonical forms of mentions, and entity resolution: one real-world entity is one Entity node.

A mention's **key** is its canonical form: accents folded, lower case, punctuation removed (except inside
numbers: ``0.5``, ``3/4``), British spellings and units unified (``colour`` -> ``color``, ``3.4-Ounce`` ->
``3.4 oz``, ``Pack of 12`` -> ``12 count``), the head noun singular (``gel pens`` -> ``gel pen``) and brand
aliases resolved (``Hewlett-Packard`` -> ``hp``). The Entity id is the key with spaces as ``-``; the type is not
part of the id, so one surface form is one node with one type (the first type seen, by majority within a
batch; mentions of the same key with another type link to that node and are counted as type conflicts).

Near-duplicates that canonical forms cannot catch (``paper mate`` / ``papermate``, ``eye liner`` /
``eyeliner``, misspellings) are merged by :class:`EntityResolver`: keys equal once spaces are removed merge
at once; otherwise a new key of a fuzzy-mergeable type is compared with known keys of the same type, and
merged when the string similarity (difflib ratio) is at least ``string_threshold`` **and** the embedding
cosine (MiniLM) is at least ``embedding_threshold``. Keys whose digits differ never merge (``hp 61`` is not
``hp 62``), and sizes, quantities and model numbers only ever merge on equal keys. The thresholds are measured
on hand-labelled candidate pairs by ``bench/extract.py`` (``bench/gold/merge_pairs.jsonl``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kg.extract.schema import EntityType

#: Types whose near-duplicates may merge by similarity (the others merge only on equal keys).
FUZZY_TYPES = frozenset({EntityType.BRAND, EntityType.PRODUCT_TYPE, EntityType.MATERIAL, EntityType.FEATURE,
                         EntityType.INGREDIENT, EntityType.AUDIENCE})
#: Measured on bench/gold/merge_pairs.jsonl by bench/extract.py (see docs/extraction.md).
STRING_THRESHOLD = 0.85
EMBEDDING_THRESHOLD = 0.80

BRAND_ALIASES: Mapping[str, str] = {
    "hewlett packard": "hp",
    "hewlettpackard": "hp",
    "hp inc": "hp",
    "loreal": "loreal paris",
    "l oreal": "loreal paris",
    "papermate": "paper mate",
    "post it": "postit",
    "3m post it": "postit",
    "bic usa": "bic",
    "sharpie markers": "sharpie",
    "expo markers": "expo",
    "brother reseller": "brother",
    "brother printer": "brother",
    "epson america": "epson",
    "canon usa": "canon",
    "neutrogena corporation": "neutrogena",
}
_LEGAL_SUFFIXES = ("inc", "llc", "ltd", "co", "corp", "corporation", "gmbh", "usa inc", "products", "company")

_UNITS: Mapping[str, str] = {
    "inch": "in", "inches": "in", "in": "in", '"': "in", "''": "in", "”": "in",
    "foot": "ft", "feet": "ft", "ft": "ft", "'": "ft",
    "ounce": "oz", "ounces": "oz", "oz": "oz",
    "fl oz": "fl oz", "fluid ounce": "fl oz", "fluid ounces": "fl oz", "floz": "fl oz",
    "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "mm": "mm",
    "centimeter": "cm", "centimeters": "cm", "cm": "cm",
    "meter": "m", "meters": "m", "m": "m",
    "milliliter": "ml", "milliliters": "ml", "ml": "ml",
    "liter": "l", "liters": "l", "litre": "l",
    "gram": "g", "grams": "g", "g": "g", "gr": "g",
    "kilogram": "kg", "kg": "kg",
    "pound": "lb", "pounds": "lb", "lb": "lb", "lbs": "lb",
    "yard": "yd", "yards": "yd", "yd": "yd", "yds": "yd",
    "gallon": "gal", "gallons": "gal",
    # micro units: "10µm", "10 um", "10 microns" are one size (µ is folded to "u" first, see fold())
    "um": "um", "micron": "um", "microns": "um", "micrometer": "um", "micrometers": "um", "micrometre": "um",
    "ul": "ul", "microliter": "ul", "microliters": "ul",
}
_COUNT_WORDS = ("count", "ct", "pack", "pk", "pcs", "pc", "piece", "pieces", "packs", "counts", "set", "sets")
_SPELLING: Mapping[str, str] = {"colour": "color", "colours": "colors", "grey": "gray", "coloured": "colored",
                                "aluminium": "aluminum", "centre": "center", "fibre": "fiber"}
_NO_SINGULAR = frozenset({
    "glass", "grass", "class", "gloss", "moss", "dress", "lens", "bus", "gas", "canvas", "series", "species",
    "scissors", "pliers", "tweezers", "shears", "jeans", "pants", "tongs", "news", "cosmetics", "plus",
    "citrus", "cactus", "hibiscus", "lotus", "always", "this", "his", "its", "was", "has", "chassis", "axis",
    "analysis", "basis", "bias", "atlas", "focus", "eucalyptus", "status", "bonus", "sunglasses", "glasses",
    "goggles", "earphones", "headphones",
})
_IRREGULAR: Mapping[str, str] = {"women": "woman", "men": "man", "children": "child", "feet": "foot",
                                 "teeth": "tooth", "knives": "knife", "leaves": "leaf", "shelves": "shelf",
                                 "shoes": "shoe", "toes": "toe", "dies": "die", "ties": "tie", "pies": "pie",
                                 "lies": "lie", "cookies": "cookie", "movies": "movie", "series": "series",
                                 "glasses": "glasses", "lashes": "lash", "hues": "hue", "cues": "cue",
                                 "tubes": "tube", "tissues": "tissue", "sleeves": "sleeve", "olives": "olive"}

# A number keeps its decimal point, fraction slash and a range's hyphen ("0.5", "3/4", "0-6").
_TOKEN = re.compile(r"\d+(?:[./]\d+)*(?:-\d+(?:[./]\d+)*)?|[a-z]+|&|\+|\"|”|'")
_DIGITS = re.compile(r"\d+")


_QUOTES = str.maketrans({"\u2033": '"', "\u201d": '"', "\u201c": '"', "\u2019": "'", "\u2018": "'",
                         # NFKD has no ASCII for these: without them "10µm" became "10 m", "3\u20135" became "35"
                         "\u00b5": "u", "\u03bc": "u", "\u2013": "-", "\u2014": "-", "\u2044": "/"})
_VULGAR = {"½": "1/2", "¼": "1/4", "¾": "3/4", "⅓": "1/3", "⅔": "2/3", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8",
           "⅞": "7/8"}
_VULGAR_RE = re.compile(rf"(\d?)([{''.join(_VULGAR)}])")


def fold(text: str) -> str:
    """NFKD-folded ASCII, lower case; curly quotes and the inch sign kept as ASCII quotes (two primes, ``''``,
    are one inch sign: ``8''`` is 8 in, not 8 ft ft), µ as u, vulgar fractions as ``1/2``."""
    text = text.replace("''", '"').translate(_QUOTES)
    text = _VULGAR_RE.sub(lambda m: (f"{m.group(1)} " if m.group(1) else "") + _VULGAR[m.group(2)], text)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def singular(word: str) -> str:
    """English singular of one lower-case word (rules plus exceptions; unknown words keep their form)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) < 4 or not word.isalpha() or word in _NO_SINGULAR or word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


_POSSESSIVE = re.compile(r"(?<=\w)'s\b")
_TRAILING_ZEROS = re.compile(r"(\d)\.(\d*?)0+(?!\d)")
_INNER_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")


_MIXED_FRACTION = re.compile(r"(\d)-(\d+/\d+)")


def _tokens(text: str) -> list[str]:
    folded = _INNER_APOSTROPHE.sub("", _POSSESSIVE.sub("", fold(text)))
    folded = _MIXED_FRACTION.sub(r"\1 \2", folded)  # "2-1/4" is two and a quarter, not a range
    folded = _TRAILING_ZEROS.sub(lambda m: m.group(1) + (f".{m.group(2)}" if m.group(2) else ""), folded)
    return [_SPELLING.get(t, t) for t in _TOKEN.findall(folded)]


def _size_key(tokens: list[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if (tokens[i] == "to" and out and out[-1][0].isdigit() and i + 1 < len(tokens)
                and tokens[i + 1][0].isdigit()):  # "3 to 5 ft" is the range "3-5 ft"
            out[-1] = f"{out[-1]}-{tokens[i + 1]}"
            i += 2
            continue
        two = " ".join(tokens[i:i + 2])
        if two in _UNITS and not two[0].isdigit():
            out.append(_UNITS[two])
            i += 2
            continue
        tok = tokens[i]
        out.append(_UNITS.get(tok, tok) if not tok[0].isdigit() else tok)
        i += 1
    key = " ".join("size" if t == "sized" else t for t in out if t not in ("by",)).replace("in in", "in")
    parts = [p.strip() for p in key.split(" x ")]
    unit = parts[-1].split()[-1] if len(parts) > 1 and not parts[-1].split()[-1][0].isdigit() else None
    if unit:  # "8 1/2 x 11 in" -> "8 1/2 in x 11 in": the unit of the last dimension is every dimension's
        parts = [p if not p.split()[-1][0].isdigit() else f"{p} {unit}" for p in parts]
    return " x ".join(parts)


def _quantity_key(tokens: list[str]) -> str:
    numbers = [t for t in tokens if t[0].isdigit()]
    words = [{"colored": "color", "colors": "color"}.get(t, singular(t)) for t in tokens
             if t.isalpha() and t not in ("of", "per", "a", "in", "total", "box")]
    unit = next((w for w in words if w not in _COUNT_WORDS and singular(w) not in _COUNT_WORDS), None)
    if not numbers:
        return " ".join(words)
    return f"{numbers[0]} {unit or 'count'}"


def _brand_key(tokens: list[str]) -> str:
    key = " ".join(t for t in tokens if t not in ("'", '"'))
    key = key.replace(" & ", " and ")
    for suffix in _LEGAL_SUFFIXES:
        if key.endswith(" " + suffix) and len(key) - len(suffix) - 1 >= 3:
            key = key[: -len(suffix) - 1]
    key = BRAND_ALIASES.get(key, key)
    return BRAND_ALIASES.get(key.replace(" ", ""), key)


def canonical_key(entity_type: EntityType, surface: str) -> str:
    """The canonical form of a mention of ``entity_type`` (see the module docstring); '' when nothing is left."""
    if entity_type is EntityType.BRAND:  # "Noodler's" is the brand "Noodlers", not a possessive
        surface = surface.replace("'", "").replace("\u2019", "")
    tokens = _tokens(surface)
    if not tokens:
        return ""
    if entity_type is EntityType.MODEL_NUMBER:
        return "".join(t.replace("-", "") for t in tokens if t.replace("-", "").isalnum())
    if entity_type is EntityType.SIZE:
        return _size_key(tokens)
    if entity_type is EntityType.QUANTITY:
        return _quantity_key(tokens)
    if entity_type is EntityType.BRAND:
        return _brand_key(tokens)
    words = [t for t in tokens if t not in ("'", '"')]
    words = [w for w in words if w not in ("the", "a", "an")] or words
    if entity_type is EntityType.COMPATIBLE_WITH:
        return " ".join(w for w in words if w not in ("for", "with", "compatible", "fits"))
    if entity_type is EntityType.COLOR:
        return " ".join("color" if w == "colors" else w for w in words)
    return " ".join([*words[:-1], singular(words[-1])]) if words else ""


def entity_id(key: str) -> str:
    """The Entity node id of a canonical key."""
    return key.replace(" ", "-")


def display_name(surface: str) -> str:
    """A readable name from a surface form: whitespace collapsed, title-cased when it was all lower case."""
    name = " ".join(surface.split())
    return name.title() if name.islower() and len(name) > 3 else name


@dataclass
class KnownEntity:
    id: str
    key: str
    name: str
    type: EntityType


Similarity = Callable[[str, str], float]
"""Cosine similarity of two texts' embeddings (see :func:`kg.extract.link.embedding_similarity`)."""


class EntityResolver:
    """Maps canonical keys to Entity nodes, merging near-duplicates (see the module docstring).

    Args:
        known: entities already in the graph.
        similarity: embedding cosine of two texts; None disables similarity merges (equal and space-free
            keys still merge).
    """

    def __init__(self, known: Iterable[KnownEntity] = (), similarity: Similarity | None = None, *,
                 string_threshold: float = STRING_THRESHOLD,
                 embedding_threshold: float = EMBEDDING_THRESHOLD) -> None:
        self.similarity = similarity
        self.string_threshold = string_threshold
        self.embedding_threshold = embedding_threshold
        self.by_key: dict[str, KnownEntity] = {}
        self._compact: dict[str, KnownEntity] = {}
        self._blocks: dict[tuple[EntityType, str], list[KnownEntity]] = {}
        self.merged: dict[str, str] = {}
        """Near-duplicate key -> the key it was merged into (this run)."""
        for entity in known:
            self._add(entity)

    def _add(self, entity: KnownEntity) -> None:
        self.by_key.setdefault(entity.key, entity)
        self._compact.setdefault(entity.key.replace(" ", ""), entity)
        self._blocks.setdefault((entity.type, entity.key[:1]), []).append(entity)

    def find(self, entity_type: EntityType, key: str) -> KnownEntity | None:
        """The known entity ``key`` resolves to, or None when it is new."""
        found = self.by_key.get(key) or self._compact.get(key.replace(" ", ""))
        if found is not None or entity_type not in FUZZY_TYPES or len(key) < 5 or self.similarity is None:
            return found
        best: tuple[float, KnownEntity] | None = None
        digits = _DIGITS.findall(key)
        for other in self._blocks.get((entity_type, key[:1]), []):
            if abs(len(other.key) - len(key)) > 3 or _DIGITS.findall(other.key) != digits:
                continue
            ratio = difflib.SequenceMatcher(None, key, other.key).ratio()
            if ratio >= self.string_threshold and (best is None or ratio > best[0]):
                best = (ratio, other)
        if best is None:
            return None
        if self.similarity(key, best[1].key) < self.embedding_threshold:
            return None
        self.merged[key] = best[1].key
        return best[1]

    def add(self, entity_type: EntityType, key: str, name: str) -> KnownEntity:
        """Register a new entity and return it."""
        entity = KnownEntity(entity_id(key), key, name, entity_type)
        self._add(entity)
        return entity
