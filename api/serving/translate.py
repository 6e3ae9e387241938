"""Dictionary-based query translation: the words of a query that the catalog does not use, read
through the installed bilingual dictionaries (:mod:`api.serving.glossary`) and replaced by an English gloss.

Only a word the catalog does not use is looked up, so a brand or a loanword the shop itself uses ("rouge",
"crème") is never touched. An English word ("laptop" in a shop that says "notebook") is looked up only in a
query some other word of which the same dictionary translated ("cahier" of "cahier à spirale": English
dictionaries list it too), and then only into a gloss the catalog uses; a misspelled English word stays as typed,
for spelling correction. Phrases are
tried before words ("rouge à lèvres" before "rouge"), up to :data:`MAX_PHRASE` words; a word is also tried without
a plural ending ("ongles" -> "ongle"). A run of an unspaced script (Chinese, Japanese) is segmented by longest
dictionary match ("洗发水" whole, not "洗" + "发水").

Among a headword's glosses the one the shop's own texts use most wins (its rarest term's document frequency):
"cahier" reads "notebook", not "exercise-book"; a gloss with a word the catalog never uses is kept only when
no gloss is all-known, so the response can still say what was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from api.serving.glossary import Glossary
from api.serving.text import STOPWORDS, WORD, has_unspaced, normalize, terms

MAX_PHRASE = 3
#: Longest unspaced-script headword tried (CC-CEDICT and JMdict words are rarely longer).
MAX_UNSPACED = 8
_PARENTHESES = re.compile(r"\([^)]*\)")
_LEADING = re.compile(r"^(?:to|a|an|the)\s+", re.IGNORECASE)


def _forms(word: str) -> list[str]:
    """``word`` and it without a plural ending (-s, -es), the forms a dictionary's headword may have."""
    return list(dict.fromkeys([word, word[:-1] if word.endswith("s") else word,
                               word[:-2] if word.endswith("es") else word]))


@dataclass(frozen=True)
class Translation:
    original: str
    english: str
    source: str
    """The dictionary that gave it."""


class QueryTranslator:
    """Translates the foreign words of a query with ``glossaries`` (tried in order).

    Args:
        glossaries: the dictionaries, most trusted first.
        frequency: a term's document frequency in the catalog (0: the catalog never uses it).
        english: whether a normalised word is an English word.
    """

    def __init__(self, glossaries: Sequence[Glossary], *, frequency: Callable[[str], int],
                 english: Callable[[str], bool]) -> None:
        self.glossaries = list(glossaries)
        self._frequency = frequency
        self._english = english

    def translate(self, text: str) -> tuple[str, list[Translation]]:
        """``text`` with its foreign words replaced by English glosses, and what was replaced.

        A query is read in one language: each dictionary translates it alone, and the one that translates the
        most words wins; on a tie, the one that has the most of the query's words as headwords, translated or
        not (its language: "cahier à spirale" is French, whose dictionary has "cahier" too, where German has
        only "Spirale", an IUD); then the one whose glosses the catalog uses most; then the order given."""
        words = list(WORD.finditer(text))
        best: tuple[tuple[int, int, int, int], str, list[Translation]] = ((0, 0, 0, 0), text, [])
        for rank, glossary in enumerate(self.glossaries):
            out, done = self._translate_with(glossary, text, words, english_too=False)
            if done:  # the query is in this dictionary's language: its words that English has too are read in it
                out, done = self._translate_with(glossary, text, words, english_too=True)
            covered = sum(len(WORD.findall(t.original)) for t in done)
            known = self._headwords(glossary, words) if covered else 0
            used = sum(1 for t in done for term in terms(t.english) if self._frequency(term))
            score = (covered, known, used, -rank)
            if covered and score > best[0]:
                best = (score, out, done)
        return best[1], best[2]

    @staticmethod
    def _headwords(glossary: Glossary, words: list[re.Match[str]]) -> int:
        """How many of the query's words (stopwords and unspaced runs aside) ``glossary`` lists, in any form."""
        return sum(1 for w in words
                   if normalize(w.group()) not in STOPWORDS and not has_unspaced(w.group())
                   and any(glossary.glosses(form) for form in _forms(w.group().lower())))

    def _translate_with(self, glossary: Glossary, text: str, words: list[re.Match[str]], *, english_too: bool
                        ) -> tuple[str, list[Translation]]:
        out, done, pos, i = [], [], 0, 0
        while i < len(words):
            word = words[i].group()
            readable = self._foreign(word) and (english_too or not self._english(normalize(word)))
            found = self._longest_phrase(glossary, text, words, i) if readable else None
            if found is None:
                i += 1
                continue
            n, translation = found
            out += [text[pos:words[i].start()], translation.english]
            done.append(translation)
            pos = words[i + n - 1].end()
            i += n
        out.append(text[pos:])
        return "".join(out), done

    def _foreign(self, word: str) -> bool:
        """Whether the catalog's texts and names use none of ``word``'s terms (then a dictionary may read it).
        A single letter of a spaced script never is: it is a vitamin, a size or an initial ("vitamin c serum"),
        which German's dictionary read as the note "C flat"."""
        norm = normalize(word)
        if len(norm) < 2 and not has_unspaced(word):
            return False
        return bool(norm) and norm not in STOPWORDS and not any(self._frequency(t) for t in terms(norm))

    def _longest_phrase(self, glossary: Glossary, text: str, words: list[re.Match[str]], i: int
                        ) -> tuple[int, Translation] | None:
        for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            phrase = text[words[i].start():words[i + n - 1].end()]
            if n == 1 and has_unspaced(phrase):
                segmented = self._segment(glossary, phrase)
                return (1, segmented) if segmented is not None else None
            translation = self._lookup(glossary, phrase)
            if translation is not None:
                return n, translation
        return None

    def _segment(self, glossary: Glossary, run: str) -> Translation | None:
        """Longest-match segmentation of an unspaced run; None when no part of it is in the dictionary."""
        parts, pos, hits = [], 0, 0
        while pos < len(run):
            for end in range(min(len(run), pos + MAX_UNSPACED), pos, -1):
                hit = self._lookup(glossary, run[pos:end])
                if hit is not None:
                    parts.append(hit.english)
                    hits += 1
                    pos = end
                    break
            else:
                parts.append(run[pos])
                pos += 1
        return Translation(run, " ".join(parts), glossary.name) if hits else None

    def _lookup(self, glossary: Glossary, phrase: str) -> Translation | None:
        """``phrase`` (or it without a plural ending) in ``glossary``. An English word is read as a foreign one
        only into a gloss the catalog uses ("mascara" is English and Spanish): otherwise it stays as typed, for
        spelling correction or to be said back as unknown."""
        if has_unspaced(phrase) != glossary.unspaced:
            return None
        low = phrase.lower()
        is_english = self._english(normalize(low))
        for form in _forms(low):
            english = self._best_gloss(glossary.glosses(form), known_only=is_english)
            if english is not None:
                return Translation(phrase, english, glossary.name)
        return None

    def _best_gloss(self, glosses: list[str], *, known_only: bool) -> str | None:
        cleaned = [g for g in (self._clean(x) for x in glosses) if g]
        if not cleaned:
            return None
        scored = [(min((self._frequency(t) for t in terms(g)), default=0), -k, g) for k, g in enumerate(cleaned)]
        best = max(scored)
        if best[0] > 0:
            return best[2]
        return None if known_only else cleaned[0]

    @staticmethod
    def _clean(gloss: str) -> str:
        """A gloss as query words: parenthesised notes and a leading "to" / article dropped, hyphens spaced;
        empty for a classifier note or a gloss of more than four words (a definition, not a name)."""
        if gloss.startswith(("CL:", "classifier", "variant of", "see ")):
            return ""
        text = _LEADING.sub("", _PARENTHESES.sub(" ", gloss)).replace("-", " ")
        text = " ".join(text.split())
        return text if 0 < len(text.split()) <= 4 else ""
