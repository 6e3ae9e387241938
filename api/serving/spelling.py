"""Spelling correction against the catalog's own vocabulary, with SymSpell (``symspellpy``).

The dictionary is every lexical term of the product texts, weighted by its document frequency, plus the words
of brand, category and entity names (weighted as if every product of the node used them): a word the catalog
never uses cannot be "corrected" into, and among equally close words the more frequent wins. A query word is
corrected only when the catalog does not know it, it is written in Latin letters, has at least
:data:`MIN_WORD_CHARS` characters and no digit; the allowed edit distance grows with the word (1 up to 5
characters, 2 beyond), so short words are not turned into other short words. Only words used at least
:data:`MIN_TARGET_COUNT` times are correction targets (a word one title misspells is known, so never
corrected, but nothing is corrected into it); that also keeps SymSpell's delete table small on large catalogs.

Two kinds of over-correction are refused. A word the catalog uses only inside a longer name ("dennis" of "Dr.
Dennis Gross": no product text has it without the rest of the name) is known but never a correction target: an
ordinary word one letter from it is not a misspelled part of a brand. And a correctly spelled English word (in
the English frequency dictionary that ships with ``symspellpy``) is not corrected just because this catalog does
not use it: "helmet" is not "elmer", "printer" not "primer", "iphone" not "prone"; the query asks for something
the shop may not sell, and saying so is better than answering another word. The one exception is a real word one
edit from a one-word brand of the catalog ("epsom ink" -> "epson ink"): brands are proper names the English
dictionary does not hold, so a real word that close to one is the classic real-word slip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, reduce
from importlib import resources

import numpy as np
from symspellpy import SymSpell, Verbosity

from kg.extract.normalise import singular

MIN_WORD_CHARS = 4
MAX_EDIT = 2
MIN_TARGET_COUNT = 2
#: symspellpy's English unigram dictionary (82,765 words with Google Books counts), one "word count" a line.
ENGLISH_DICTIONARY = "frequency_dictionary_en_82_765.txt"


@dataclass(frozen=True)
class Correction:
    original: str
    corrected: str


class SpellCorrector:
    """Corrects words unknown to a vocabulary (term -> frequency)."""

    def __init__(self, vocabulary: dict[str, int], *, not_targets: Iterable[str] = (),
                 real_words: Iterable[str] = (), brand_names: Iterable[str] = ()) -> None:
        """``not_targets``: known words nothing is corrected into; ``real_words``: words never corrected except
        into one of ``brand_names`` (one-word brand names, normalised)."""
        excluded = frozenset(not_targets)
        self._sym = SymSpell(max_dictionary_edit_distance=MAX_EDIT, prefix_length=7)
        for word, count in vocabulary.items():
            if (word.isascii() and word.isalpha() and len(word) >= 2 and count >= MIN_TARGET_COUNT
                    and word not in excluded):
                self._sym.create_dictionary_entry(word, max(int(count), 1))
        self._known = frozenset(vocabulary)
        self._real_words = frozenset(real_words)
        self._brand_names = frozenset(brand_names)

    def known(self, word: str) -> bool:
        return word in self._known

    def correct(self, word: str) -> str | None:
        """The closest, most frequent catalog word for an unknown ``word``; None when known or nothing close."""
        if word in self._known or not correctable(word):
            return None
        found = self._closest(word)
        if found is None and (one := singular(word)) != word and one not in self._real_words:
            # A misspelled plural is one edit further from the catalog's words than its singular ("hilighters"
            # is three from "highlighter", "hilighter" two): correct the singular, then give the ending back.
            fixed = self._closest(one)
            if fixed is not None:
                return fixed + word[len(one):] if word.startswith(one) else fixed
        return found

    def _closest(self, word: str) -> str | None:
        distance = 1 if len(word) <= 5 else MAX_EDIT
        found = self._sym.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        if word in self._real_words:
            found = [s for s in found if s.term in self._brand_names and s.distance == 1]
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


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The words of symspellpy's English frequency dictionary: correctly spelled English words."""
    text = (resources.files("symspellpy") / ENGLISH_DICTIONARY).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


def names_only_inside(names: Iterable[Iterable[str]], docs_with: Callable[[str], np.ndarray]) -> set[str]:
    """Words the catalog uses only inside a longer name: a word of a multi-word name that is no one-word name
    itself and that every product text using it uses with the rest of the name (or no text uses at all).
    ``docs_with(word)``: the sorted indexes of the product texts that have ``word``."""
    name_words = [list(dict.fromkeys(words)) for words in names]
    whole = {words[0] for words in name_words if len(words) == 1}
    inside: set[str] = set()
    for words in name_words:
        if len(words) < 2:
            continue
        with_all = reduce(np.intersect1d, (docs_with(w) for w in words))
        for w in words:
            if w not in whole and len(np.setdiff1d(docs_with(w), with_all)) == 0:
                inside.add(w)
    return inside
