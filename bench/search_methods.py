"""The search methods the judged-query benchmark compares, each ``query -> ranked product ids``.

- ``bm25``: Okapi BM25 over product titles (the ``bm25s`` library, its default parameters), independent of
  Cartograph's own index, as the plain baseline;
- ``dense``: cosine of the MiniLM query embedding to the product texts' (title + description; the encoder and
  cache ``cartograph train`` uses);
- ``hybrid``: the two fused by reciprocal rank (``1 / (60 + rank)`` each);
- ``search``: Cartograph's search as a client sees it, ``GET /search`` of the API app in-process (no user:
  the ``+ graph`` row; with a ``user_id``: ``+ personalisation``, which is what the service answers, so also
  the final ranker). Going through the API keeps the adapter independent of how the search is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np

RRF_K = 60.0
Ranker = Callable[[str], list[str]]


@dataclass
class Timed:
    """One method's answer to one query: product ids best first, and how long it took."""

    ids: list[str]
    ms: float


def timed(ranker: Ranker, query: str) -> Timed:
    start = time.perf_counter()
    ids = ranker(query)
    return Timed(ids, (time.perf_counter() - start) * 1000.0)


class BM25Titles:
    """BM25 over titles with ``bm25s`` (English stop words removed, no stemmer: the library's defaults)."""

    def __init__(self, product_ids: list[str], titles: list[str]) -> None:
        self.ids = product_ids
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(titles, stopwords="en", show_progress=False), show_progress=False)

    def __call__(self, query: str, k: int = 100) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:  # no known word (e.g. only stop words, or a script the tokenizer drops)
            return []
        docs, scores = self.retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False)
        return [self.ids[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


class Dense:
    """Cosine of the query's embedding to each product text's (both unit vectors from the same encoder)."""

    def __init__(self, product_ids: list[str], product_emb: np.ndarray, encode: Callable[[str], np.ndarray]) -> None:
        self.ids = product_ids
        self.emb = product_emb
        self.encode = encode

    def __call__(self, query: str, k: int = 100) -> list[str]:
        scores = self.emb @ self.encode(query)
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[int(i)] for i in top]


def rrf(*rankings: list[str], k: int = 100) -> list[str]:
    """Reciprocal rank fusion; ties broken by id so the order is deterministic."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for r, pid in enumerate(ranking):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + r + 1)
    return sorted(fused, key=lambda p: (-fused[p], p))[:k]


class Hybrid:
    def __init__(self, bm25: BM25Titles, dense: Dense) -> None:
        self.bm25, self.dense = bm25, dense

    def __call__(self, query: str, k: int = 100) -> list[str]:
        return rrf(self.bm25(query, k), self.dense(query, k), k=k)


class ApiSearch:
    """``GET /search`` on an in-process API client (``fastapi.testclient.TestClient``), optionally for a user.

    A 4xx answer (e.g. a query the API refuses) counts as an empty result list: that is what a client gets."""

    def __init__(self, client: Any, user_id: str | None = None) -> None:
        self.client, self.user_id = client, user_id

    def __call__(self, query: str, k: int = 100) -> list[str]:
        params: dict[str, Any] = {"q": query, "k": k}
        if self.user_id is not None:
            params["user_id"] = self.user_id
        response = self.client.get("/search", params=params)
        if 400 <= response.status_code < 500:
            return []
        response.raise_for_status()
        return [item["product"]["id"] for item in response.json()["items"]]
