"""The pattern-and-lexicon extractor: regular expressions for shaped entities plus word lists for the rest.

Lexicons are the built-in word lists (:mod:`kg.extract.wordlists`) plus, at run time, the catalog's own
structured fields: brand names (Brand nodes) and category names (Category nodes, as product types). Matching
is on word sequences, case-, accent- and plural-insensitive, longest match first. A brand name that is also a
common word ("Universal", "Expo") only counts capitalised in mixed-case text, or first in a title.

This extractor makes no model calls; it is the fallback of the offline default and the source of the weak
labels the token classifier is trained on (:mod:`kg.extract.train`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kg.extract import patterns
from kg.extract.base import EntityExtractor, ItemResult, Mention, TextItem
from kg.extract.normalise import BRAND_ALIASES, canonical_key, fold, singular
from kg.extract.schema import EntityType
from kg.extract.wordlists import COMMON_WORDS, LEXICONS, STOP_PHRASES, TYPE_PRIORITY

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Category names that name a department, not a kind of product.
_BROAD_CATEGORIES = frozenset({
    "beauty", "makeup", "face", "eye", "lip", "body", "skin care", "hair care", "tool", "accessory", "set", "kit",
    "bath", "bath and body", "man", "men", "woman", "women", "child", "children", "sun", "sport", "fragrance", "nail",
    "eyes", "lips", "hand", "foot", "maternity", "combination", "complex", "filler", "activator", "claw",
    "clothing", "shoe", "jewelry", "luggage", "travel gear", "novelty", "costume", "band", "music fan",
    "exotic apparel", "alpha beta", "treatment", "styling product", "styling tool", "highlight", "more",
    "office product", "office supply", "school supply", "hair", "scalp", "skin", "cloth", "cap",
    "hat", "wrap", "foil", "women's", "men's", "children's",
})
#: Rank of a match kind when spans overlap: higher wins, then the longer span.
RANK = {"brand_number": 4, "pattern": 3, "brand": 2, "model": 2, "lexicon": 1}


@functools.cache
def common_words() -> frozenset[str]:
    """Whole English words of BERT's uncased vocabulary (the MiniLM package's ``vocab.txt``): a brand made only
    of such words ("Clear", "Staples", "Mouse Pad", "Home Premium") is ambiguous, and counts as a brand only
    first in a title, where catalogs put the brand."""
    from kg.text import default_model_dir

    path = default_model_dir() / "vocab.txt"
    if not path.is_file():
        return COMMON_WORDS
    vocab = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in vocab if w.isalpha() and len(w) > 1 and w.isascii()) | COMMON_WORDS


def words(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) for every word of ``text``: folded, lower case, singular."""
    out = []
    for m in _WORD.finditer(text):
        w = fold(m.group())
        if w:
            out.append((singular({"colour": "color", "grey": "gray"}.get(w, w)), m.start(), m.end()))
    return out


def _phrase_key(phrase: str) -> tuple[str, ...]:
    return tuple(w for w, _, _ in words(phrase))


@dataclass(frozen=True)
class _Entry:
    type: EntityType
    kind: str
    """'brand' or 'lexicon'."""
    ambiguous: bool = False
    """A brand that is also a common word: only capitalised, or first in a title."""


class Lexicon:
    """Phrase -> candidate types, in priority order.

    Args:
        brands: brand display names (the catalog's brand field, i.e. Brand nodes).
        categories: category names; those naming a kind of product become product types.
        builtin: include the built-in word lists.
    """

    def __init__(self, brands: Iterable[str] = (), categories: Iterable[str] = (), *, builtin: bool = True) -> None:
        brands = list(brands)
        self.entries: dict[tuple[str, ...], list[_Entry]] = {}
        self.max_len = 1
        for name in brands:
            key = _phrase_key(name)
            if not key or len(" ".join(key)) < 2:
                continue
            joined = " ".join(key)
            ambiguous = (joined in COMMON_WORDS or (len(key) == 1 and len(joined) <= 2)
                         or all(w in common_words() for w in key))
            self._add(key, _Entry(EntityType.BRAND, "brand", ambiguous))
        # Aliases of known brands ("Hewlett-Packard" for HP) are brand phrases too.
        brand_keys = {canonical_key(EntityType.BRAND, name) for name in brands}
        for alias, target in BRAND_ALIASES.items():
            if target in brand_keys:
                self._add(_phrase_key(alias), _Entry(EntityType.BRAND, "brand"))
        if builtin:
            for entity_type in TYPE_PRIORITY[1:]:
                for phrase in LEXICONS[entity_type]:
                    self._add(_phrase_key(phrase), _Entry(entity_type, "lexicon"))
        for name in categories:
            for part in re.split(r",|&|\band\b", name):
                key = _phrase_key(part)
                if key and " ".join(key) not in _BROAD_CATEGORIES:
                    self._add(key, _Entry(EntityType.PRODUCT_TYPE, "lexicon"))
        for phrase in STOP_PHRASES:
            self.entries[_phrase_key(phrase)] = [_Entry(EntityType.FEATURE, "stop")]
            self.max_len = max(self.max_len, len(_phrase_key(phrase)))
        for key, entries in self.entries.items():
            entries.sort(key=lambda e: TYPE_PRIORITY.index(e.type))
            self.entries[key] = entries
        # A brand that is also a lexicon phrase ("Clear", "Natural") is ambiguous too.
        for entries in self.entries.values():
            if entries[0].type is EntityType.BRAND and len(entries) > 1:
                entries[0] = _Entry(EntityType.BRAND, "brand", True)

    def _add(self, key: tuple[str, ...], entry: _Entry) -> None:
        if not key:
            return
        bucket = self.entries.setdefault(key, [])
        if all(e.type is not entry.type for e in bucket):
            bucket.append(entry)
            self.max_len = max(self.max_len, len(key))

    def match(self, text: str, *, is_title: bool) -> list[tuple[EntityType, int, int, str, float]]:
        """Longest lexicon matches in ``text``: (type, start, end, kind, confidence), not overlapping."""
        toks = words(text)
        mixed_case = text != text.lower() and text != text.upper()
        out = []
        i = 0
        while i < len(toks):
            for n in range(min(self.max_len, len(toks) - i), 0, -1):
                entries = self.entries.get(tuple(t for t, _, _ in toks[i:i + n]))
                if not entries:
                    continue
                start, end = toks[i][1], toks[i + n - 1][2]
                chosen = self._choose(entries, text[start:end], first=is_title and i == 0, mixed_case=mixed_case)
                if chosen is None:
                    continue
                if chosen.kind == "stop":  # a phrase that looks like an entity and is not one
                    i += n - 1
                    break
                confidence = 0.9 if chosen.kind == "brand" and not chosen.ambiguous else 0.7
                out.append((chosen.type, start, end, chosen.kind, confidence))
                i += n - 1
                break
            i += 1
        return out

    @staticmethod
    def _choose(entries: Sequence[_Entry], surface: str, *, first: bool, mixed_case: bool) -> _Entry | None:
        for entry in entries:
            if entry.kind == "brand" and entry.ambiguous and not first:
                continue
            return entry
        return None


def resolve(candidates: Sequence[tuple[EntityType, int, int, str, float]]) -> list[tuple[EntityType, int, int, str,
                                                                                          float]]:
    """Non-overlapping spans: higher :data:`RANK` first, then longer, then earlier."""
    ranked = sorted(candidates, key=lambda c: (-RANK[c[3]], -(c[2] - c[1]), c[1]))
    kept: list[tuple[EntityType, int, int, str, float]] = []
    for c in ranked:
        if all(c[2] <= k[1] or k[2] <= c[1] for k in kept):
            kept.append(c)
    return sorted(kept, key=lambda c: c[1])


_BRAND_NUMBER = re.compile(
    r"\s+(\d{2,12}(?:-\d{2,6}){0,2}(?:XL|XXL|A|B)?)\b(?![.,/-]?\d|\s*(?:-\s*)?(?:(?:mm|cm|ml|oz|in|inch|ft|feet|x|packs?|"
    r"count|ct|pcs|pieces?|sheets?|colou?rs?)\b|%|\"|'|”))",
    re.I,
)


def drop_modifiers(text: str, spans: Sequence[tuple[EntityType, int, int, str, float]]) -> list[
        tuple[EntityType, int, int, str, float]]:
    """A one-word product type right before another product type modifies it ("Gel Mouse Pad", "Desk
    Printer"): the head is the product, the modifier is dropped."""
    ordered = sorted(spans, key=lambda c: c[1])
    out = []
    for i, span in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        if (span[0] is EntityType.PRODUCT_TYPE and span[3] == "lexicon" and " " not in text[span[1]:span[2]]
                and nxt is not None and nxt[0] is EntityType.PRODUCT_TYPE
                and re.fullmatch(r"[\s/-]{1,3}", text[span[2]:nxt[1]])):
            continue
        out.append(span)
    return out


_FOR_BEFORE = re.compile(r"\b(?:for|for use with|compatible with|works with|fits)\s+(?:[\w&+-]+\s+){0,3}$", re.I)


def drop_made_for(text: str, spans: Sequence[tuple[EntityType, int, int, str, float]]) -> list[
        tuple[EntityType, int, int, str, float]]:
    """A product type named after "for" ("Filament for 3D Printer", "Case for Kindle") is what the product is
    made for, not what it is: dropped when the text names another product type."""
    types = [s for s in spans if s[0] is EntityType.PRODUCT_TYPE]
    made_for = {s for s in types if s[3] == "lexicon" and _FOR_BEFORE.search(text[max(0, s[1] - 60):s[1]])}
    if not made_for or len(made_for) == len(types):
        return list(spans)
    return [s for s in spans if s not in made_for]


def brand_numbers(text: str, spans: Sequence[tuple[EntityType, int, int, str, float]]) -> list[
        tuple[EntityType, int, int, str, float]]:
    """``HP 61``, ``Epson 702XL``, ``Whatman 1001-110``, ``Gorilla 6055002``: a number right after a brand is a
    model number (not one followed by a unit: ``Brand 3 mm``)."""
    out = []
    for entity_type, _, end, _, _ in spans:
        if entity_type is EntityType.BRAND:
            m = _BRAND_NUMBER.match(text, end)
            if m:
                out.append((EntityType.MODEL_NUMBER, m.start(1), m.end(1), "brand_number", 0.6))
    return out


class LexiconExtractor(EntityExtractor):
    """Patterns plus lexicons (see the module docstring). ``name`` is ``lexicon@<version>``."""

    kind = "lexicon"
    VERSION = "4"  # 2: units, ranges, standards and ratings; 3: industrial lexicons (issue 19); 4: the department
    # category "Men" is no product type. A new version: products are re-extracted on the next rebuild

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        super().__init__()
        self.lexicon = lexicon or Lexicon()

    @property
    def name(self) -> str:
        return f"lexicon@{self.VERSION}"

    def spans(self, text: str, *, is_title: bool) -> list[tuple[EntityType, int, int, str, float]]:
        """Resolved spans of one text: (type, start, end, kind, confidence)."""
        found = [(t, s, e, "model" if t is EntityType.MODEL_NUMBER else "pattern", c)
                 for t, s, e, c in patterns.find_all(text)]
        lex = self.lexicon.match(text, is_title=is_title)
        found += lex + brand_numbers(text, lex)
        return drop_made_for(text, drop_modifiers(text, resolve(found)))

    def extract_batch(self, items: Sequence[TextItem]) -> list[ItemResult]:
        results = []
        for item in items:
            result = ItemResult()
            for field_name, text in item.fields.items():
                if not text:
                    continue
                for entity_type, start, end, _, confidence in self.spans(text, is_title=field_name == "title"):
                    result.mentions.append(Mention(entity_type, text[start:end], field_name, start, end,
                                                   confidence, self.name))
            results.append(result)
        return results
