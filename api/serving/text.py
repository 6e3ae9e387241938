"""Text normalisation shared by BM25, entity linking and query validation.

One normaliser for documents, names and queries, so that "L'Oréal" in a query, "L'Oreal" as a brand name and
"loreal" in a title meet: lower case, accents folded, apostrophes dropped inside words, every other
non-alphanumeric character a separator.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = re.compile(r"(?<=\w)['\u2019`](?=\w)")
_NON_WORD = re.compile(r"[^0-9a-z]+")
#: Words too common to match on by themselves (they still count inside a multi-word name).
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or",
    "the", "to", "with", "without", "your", "you", "my", "our", "this", "that", "these", "those", "new", "set",
    "pack",
})


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower case, accents folded, apostrophes inside words removed, separators collapsed to one space."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", folded)).strip()


def tokens(text: str) -> list[str]:
    """Normalised words of ``text``, in order (stop words kept: linking needs them inside names)."""
    norm = normalize(text)
    return norm.split() if norm else []


def terms(text: str) -> list[str]:
    """Words that carry meaning for lexical retrieval: normalised, no stop words, at least 2 characters
    (or a digit: sizes like "5" in "5 ml" matter)."""
    return [t for t in tokens(text) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]
