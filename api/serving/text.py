"""Text normalisation shared by BM25, entity linking, spelling correction and query validation.

One normaliser for documents, names and queries, so that "L'Oréal" in a query, "L'Oreal" as a brand name and
"loreal" in a title meet: lower case, accents folded, apostrophes dropped inside words, every other character
that is not a letter or digit (of any script) a separator. Scripts written without spaces between words
(Chinese, Japanese, Thai, Khmer...) are cut into overlapping character bigrams, the usual unit for indexing
them without a dictionary: "口红" is one term, "口红笔" the terms "口红" and "红笔". Lexical terms are singular
(:func:`kg.extract.normalise.singular`, the extraction's own rule), so "eyeliners" finds "eyeliner".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from kg.extract.normalise import singular

_APOSTROPHES = re.compile(r"(?<=\w)['\u2019`](?=\w)")
_NON_WORD = re.compile(r"[\W_]+")
#: A word as typed: letters and digits of any script, apostrophes inside it belonging to it ("l'oreal").
WORD = re.compile(r"[^\W_]+(?:['\u2019`][^\W_]+)*")
#: Scripts without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs, compatibility forms.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                       r"\uf900-\ufaff]+")
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


def _split_unspaced(word: str) -> list[str]:
    """``word`` with its runs of an unspaced script cut into character bigrams (a lone character stays)."""
    if not _UNSPACED.search(word):
        return [word]
    out: list[str] = []
    pos = 0
    for m in _UNSPACED.finditer(word):
        if m.start() > pos:
            out.append(word[pos:m.start()])
        run = m.group()
        out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        pos = m.end()
    if pos < len(word):
        out.append(word[pos:])
    return out


def has_unspaced(text: str) -> bool:
    """Whether ``text`` has a run of a script written without spaces between words (Chinese, Japanese...)."""
    return bool(_UNSPACED.search(text))


def tokens(text: str) -> list[str]:
    """Normalised words of ``text``, in order (stop words kept: linking needs them inside names)."""
    norm = normalize(text)
    return [t for w in norm.split() for t in _split_unspaced(w)] if norm else []


def term(word: str) -> str:
    """The lexical term of one normalised word: its singular."""
    return singular(word)


def terms(text: str) -> list[str]:
    """Words that carry meaning for lexical retrieval: normalised, singular, no stop words, at least 2
    characters (or a digit: sizes like "5" in "5 ml" matter; or a character of an unspaced script)."""
    return [term(t) for t in tokens(text)
            if t not in STOPWORDS and (len(t) > 1 or t.isdigit() or bool(_UNSPACED.match(t)))]
