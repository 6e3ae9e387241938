"""Spelling correction against the catalog's own vocabulary, with SymSpell (``symspellpy``).

The dictionary is every lexical term of the product texts, weighted by its document frequency, plus the words
of brand, category and entity names (weighted as if every product of the node used them): a word the catalog
never uses cannot be "corrected" into, and among equally close words the more frequent wins. A query word is
corrected only when the catalog does not know it, it is written in Latin letters, has at least
:data:`MIN_WORD_CHARS` characters and no digit; the allowed edit distance grows with the word (1 up to 5
characters, 2 beyond), so short words are not turned into other short words. Only words used at least
:data:`MIN_TARGET_COUNT` times are correction targets (a word one title misspells is known, so never
corrected, but nothing is corrected into it); that also keeps SymSpell's delete table small on large catalogs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from symspellpy import SymSpell, Verbosity

MIN_WORD_CHARS = 4
MAX_EDIT = 2
MIN_TARGET_COUNT = 2


@dataclass(frozen=True)
class Correction:
    original: str
    corrected: str


class SpellCorrector:
    """Corrects words unknown to a vocabulary (term -> frequency)."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self._sym = SymSpell(max_dictionary_edit_distance=MAX_EDIT, prefix_length=7)
        for word, count in vocabulary.items():
            if word.isascii() and word.isalpha() and len(word) >= 2 and count >= MIN_TARGET_COUNT:
                self._sym.create_dictionary_entry(word, max(int(count), 1))
        self._known = frozenset(vocabulary)

    def known(self, word: str) -> bool:
        return word in self._known

    def correct(self, word: str) -> str | None:
        """The closest, most frequent catalog word for an unknown ``word``; None when known or nothing close."""
        if word in self._known or not correctable(word):
            return None
        distance = 1 if len(word) <= 5 else MAX_EDIT
        found = self._sym.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        return found[0].term if found else None

    def suggest(self, word: str, n: int = 3) -> list[str]:
        """Up to ``n`` catalog words within :data:`MAX_EDIT` edits of ``word`` (closest, then most frequent)."""
        if not correctable(word):
            return []
        found = self._sym.lookup(word, Verbosity.ALL, max_edit_distance=MAX_EDIT)
        return [s.term for s in found if s.term != word][:n]


def correctable(word: str) -> bool:
    return len(word) >= MIN_WORD_CHARS and word.isascii() and word.isalpha()


def vocabulary(term_frequencies: dict[str, int], names: Iterable[tuple[Iterable[str], int]]) -> dict[str, int]:
    """The corrector's dictionary: ``term_frequencies`` plus the words of each name (words, weight)."""
    out = dict(term_frequencies)
    for words, weight in names:
        for w in words:
            out[w] = out.get(w, 0) + max(weight, 1)
    return out
