"""Negation: "without fragrance", "no parabens", "fragrance free", "paraben-free", "free of sulfates".

A query's negated word becomes a filter: products whose text uses the word are excluded, unless the text
itself negates it ("fragrance free", "free of fragrance", "without fragrance", "no fragrance"; "unscented"
counts as fragrance-free). Those products are the ones the user asked for, so "<word> free" is also a ranking
constraint they keep. Which products negate which words is found once per index (one pass over the texts),
so a query costs two posting-list lookups, not a scan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from api.serving.text import normalize, term

_QUERY_NEGATION = re.compile(r"\b(?:without|no|free of|free from|non)[\s-]+([^\W\d_]{3,})\b"
                             r"|\b([^\W\d_]{3,})[\s-]free\b", re.I)
_TEXT_NEGATION = re.compile(r"\b(?:without|no|free of|free from|non) ([^\W\d_]{3,})\b|\b([^\W\d_]{3,}) free\b")
#: Words that say a negation by themselves (word -> the words it negates).
IMPLIED: dict[str, tuple[str, ...]] = {"unscented": ("fragrance", "scent", "perfume"),
                                       "fragranceless": ("fragrance",)}
#: Not negations although they look like one ("no" as in the brand "No7" has a digit and never matches).
_NOT_NEGATED = frozenset({"doubt", "more", "longer", "matter", "problem", "hands", "tax", "duty", "gift"})


@dataclass(frozen=True)
class Negation:
    word: str
    """The negated lexical term ("fragrance")."""
    phrase: str
    """The words of the query that said it ("without fragrance")."""


def parse_negations(text: str) -> tuple[list[Negation], str]:
    """(the negations in ``text``, ``text`` without them)."""
    found: list[Negation] = []
    for m in _QUERY_NEGATION.finditer(text):
        word = term(normalize(m.group(1) or m.group(2)))
        if word not in _NOT_NEGATED:
            found.append(Negation(word, m.group().strip()))
    if not found:
        return [], text
    rest = _QUERY_NEGATION.sub(lambda m: " " if term(normalize(m.group(1) or m.group(2))) not in _NOT_NEGATED
                               else m.group(), text)
    return found, " ".join(rest.split())


class NegationIndex:
    """Term -> products whose own text negates it (built from the normalised product texts)."""

    def __init__(self, texts: Sequence[str]) -> None:
        lists: dict[str, list[int]] = {}
        for doc, text in enumerate(texts):
            norm = normalize(text)
            words = {term(m.group(1) or m.group(2)) for m in _TEXT_NEGATION.finditer(norm)}
            for w in norm.split():
                words.update(IMPLIED.get(w, ()))
            for w in words:
                lists.setdefault(w, []).append(doc)
        self._docs = {w: np.array(ids, dtype=np.int64) for w, ids in lists.items()}

    def negating(self, word: str) -> np.ndarray:
        """Products whose text negates ``word``."""
        return self._docs.get(word, np.zeros(0, dtype=np.int64))
