"""A small Okapi BM25 index over product texts, in numpy (inverted lists of precomputed term weights).

Each posting stores the document's full BM25 term score ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl /
avgdl))``, so a query is a sum of a few postings: no per-query arithmetic over the whole corpus. Query terms
absent from the corpus contribute nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from api.serving.text import terms

_NO_DOCS = np.zeros(0, dtype=np.int64)


class BM25Index:
    """BM25 over ``docs`` (one text per product, in product index order).

    Args:
        docs: document texts.
        k1, b: the usual BM25 parameters (term-frequency saturation, length normalisation).
    """

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.num_docs = len(docs)
        tokenised = [terms(d) for d in docs]
        lengths = np.array([len(t) for t in tokenised], dtype=np.float64)
        avgdl = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for doc, words in enumerate(tokenised):
            for term, count in Counter(words).items():
                entry = postings.setdefault(term, ([], []))
                entry[0].append(doc)
                entry[1].append(count)
        self._docs: dict[str, np.ndarray] = {}
        self._weights: dict[str, np.ndarray] = {}
        for term, (doc_ids, tfs) in postings.items():
            ids = np.array(doc_ids, dtype=np.int64)
            tf = np.array(tfs, dtype=np.float64)
            idf = math.log(1.0 + (self.num_docs - len(ids) + 0.5) / (len(ids) + 0.5))
            norm = tf + k1 * (1.0 - b + b * lengths[ids] / avgdl)
            self._docs[term] = ids
            self._weights[term] = (idf * tf * (k1 + 1.0) / norm).astype(np.float32)
        self._doc_terms = [frozenset(t) for t in tokenised]

    @property
    def vocabulary_size(self) -> int:
        return len(self._docs)

    def document_frequencies(self) -> dict[str, int]:
        """Term -> number of documents containing it (the spelling corrector's dictionary)."""
        return {t: len(ids) for t, ids in self._docs.items()}

    def has_term(self, term: str) -> bool:
        return term in self._docs

    def docs_with(self, term: str) -> np.ndarray:
        """Documents containing ``term`` (a lexical term, see :func:`api.serving.text.terms`)."""
        return self._docs.get(term, _NO_DOCS)

    def scores(self, query: str) -> np.ndarray:
        """``[num_docs]`` BM25 scores of ``query`` (zero where no query term occurs)."""
        return self.term_scores(terms(query))

    def term_scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """:meth:`scores` of a query already cut into terms (:func:`api.serving.text.terms` is not idempotent:
        "mens" -> "men" -> "man", so terms are not joined and cut again)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        for term in set(query_terms):
            ids = self._docs.get(term)
            if ids is not None:
                out[ids] += self._weights[term]
        return out

    def coverage(self, query_terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """Per document of ``docs``, the share of the distinct ``query_terms`` its text contains (0 with none)."""
        unique = list(dict.fromkeys(query_terms))
        if not unique or not len(docs):
            return np.zeros(len(docs))
        found = np.zeros(self.num_docs, dtype=np.float64)
        for t in unique:
            found[self.docs_with(t)] += 1.0
        return found[docs] / len(unique)

    def matched_terms(self, query: str, doc: int) -> list[str]:
        """The query's terms that occur in document ``doc`` (for "what matched")."""
        words = self._doc_terms[doc]
        return [t for t in dict.fromkeys(terms(query)) if t in words]
