"""Price phrases in a query: "under $10", "below 10 dollars", "over 20", "between 5 and 15", "$5-$15", "cheap".

A phrase becomes a price range; the words leave the text that retrieval sees ("under 10 dollars" is not
something a title says). A bare number counts only with a price word before it ("under 10") or a currency
after or before it ("10 dollars", "$10"): "3-5 ft" is a size, not a price. "cheap" (and its synonyms) means
at most the catalog's lower-quartile price, computed from the prices the catalog has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOT_MONEY = r"(?!\d|\s*(?:ml|oz|fl|g|kg|lbs?|mm|cm|in|inch(?:es)?|ft|hours?|hrs?|count|ct|pack|pcs|sheets?|x|%)\b|%)"
_MONEY = rf"\$?\s*(\d+(?:[.,]\d{{1,2}})?){_NOT_MONEY}\s*(?:\$|usd\b|dollars?\b|bucks\b|eur\b|euros?\b|€|£)?"
_AMOUNT_WITH_CURRENCY = r"(?:\$\s*(\d+(?:[.,]\d{1,2})?)|(\d+(?:[.,]\d{1,2})?)\s*(?:\$|usd\b|dollars?\b|bucks\b))"
_MAX = re.compile(rf"\b(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to|no more than)\s+{_MONEY}"
                  rf"|<\s*{_MONEY}", re.I)
_MIN = re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?|from)\s+{_MONEY}|>\s*{_MONEY}", re.I)
_BETWEEN = re.compile(rf"\bbetween\s+{_MONEY}\s+and\s+{_MONEY}", re.I)
_RANGE = re.compile(r"\$\s*(\d+(?:\.\d{1,2})?)\s*(?:-|to)\s*\$?\s*(\d+(?:\.\d{1,2})?)", re.I)
_CHEAP = re.compile(r"\b(?:cheap|cheapest|inexpensive|budget|affordable|low[\s-]cost|bargain)\b", re.I)
_PRICE_WORD = re.compile(r"\b(?:price[ds]?|priced|costs?|for)\s*$", re.I)


@dataclass(frozen=True)
class PriceRange:
    """A price range read from the query: ``min``/``max`` (None: open), the words that said it."""

    min: float | None
    max: float | None
    phrase: str
    cheap: bool = False

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        return f"<= {self.max:g}" if self.max is not None else f">= {self.min:g}"


def _num(*groups: str | None) -> float:
    value = next(g for g in groups if g)
    return float(value.replace(",", "."))


def parse_price(text: str, cheap_max: float | None) -> tuple[PriceRange | None, str]:
    """(the price range ``text`` asks for, ``text`` without the phrase). ``cheap_max``: what "cheap" means here
    (None when the catalog has no prices: "cheap" is then recognised with an open range and said back)."""
    for pattern in (_BETWEEN, _RANGE):
        m = pattern.search(text)
        if m:
            lo, hi = sorted((_num(m.group(1)), _num(m.group(2))))
            return PriceRange(lo, hi, m.group().strip()), _cut(text, m)
    m = _MAX.search(text)
    if m:
        return PriceRange(None, _num(*m.groups()), m.group().strip()), _cut(text, m)
    m = _MIN.search(text)
    # "from 5" is a price only with a currency ("from 5 dollars"), else too often something else
    if m and (not m.group().lower().startswith("from") or re.search(r"[$€£]|dollar|usd", m.group(), re.I)):
        return PriceRange(_num(*m.groups()), None, m.group().strip()), _cut(text, m)
    m = re.search(_AMOUNT_WITH_CURRENCY, text, re.I)
    if m:  # "lipstick 10 dollars": about that much; read as an upper bound, the usual intent
        return PriceRange(None, _num(*m.groups()), m.group().strip()), _cut(text, m)
    m = _CHEAP.search(text)
    if m:
        return PriceRange(None, cheap_max, m.group(), cheap=True), _cut(text, m)
    return None, text


def _cut(text: str, m: re.Match[str]) -> str:
    before = _PRICE_WORD.sub("", text[:m.start()])  # "priced under 10": "priced" goes too
    return " ".join(f"{before} {text[m.end():]}".split())
