"""Personalised, graph-aware product search over the serving index (no database round trip).

1. Entity linking: the query's mentions of brands, categories and entities (:mod:`api.serving.linking`).
2. Three candidate lists, each within the filters: BM25 over product texts, dense similarity of the query's
   MiniLM embedding to the product texts', and graph expansion (products connected to the linked nodes,
   more specific nodes weighing more: ``log(1 + P / degree)``, then popularity).
3. Reciprocal rank fusion of the lists (``1 / (60 + rank)`` each), so no score scale has to be calibrated.
4. With a user: the fused candidates are ranked again by the user's GNN affinity and that rank joins the
   fusion (a rerank that reorders, but cannot bring in products that match nothing).
Each hit lists what matched: ``brand=...``, ``category=...``, ``entity=...``, ``text: words``, ``semantic``,
``personal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from api.serving.index import ServingIndex
from api.serving.linking import Mention
from api.serving.query_encoder import QueryEncoder
from api.serving.recommend import top_k

RRF_K = 60.0
CANDIDATES_PER_LIST = 200
#: Weight of the personal rank in the fusion (each retrieval list weighs 1).
PERSONAL_WEIGHT = 1.0
#: Dense similarities below this are not reported as a "semantic" match.
MIN_SEMANTIC = 0.35


@dataclass(frozen=True)
class SearchHit:
    index: int
    score: float
    matched: list[str]


@dataclass
class SearchResult:
    mentions: list[Mention]
    hits: list[SearchHit]
    personalised: bool
    retrieval: dict[str, int] = field(default_factory=dict)


def _ranks(scores: np.ndarray, mask: np.ndarray, n: int) -> dict[int, int]:
    """Product -> rank (0-based) of the top ``n`` positive scores within ``mask``."""
    masked = np.where(mask & (scores > 0), scores, -np.inf)
    return {int(i): r for r, i in enumerate(top_k(masked, n))}


def graph_scores(index: ServingIndex, mentions: list[Mention]) -> np.ndarray:
    """Per product, the summed specificity of the linked nodes it is connected to."""
    c = index.catalog
    out = np.zeros(c.num_products, dtype=np.float32)
    for m in mentions:
        members = c.members[m.node_type].row(m.index)
        if len(members):
            out[members] += np.log1p(c.num_products / len(members))
    # Popularity breaks ties among products matching the same nodes (a tiny fraction of one node's weight).
    return np.where(out > 0, out + 1e-3 * np.log1p(c.popularity), 0.0).astype(np.float32)


def search(index: ServingIndex, query: str, k: int, *, encoder: QueryEncoder | None,
           filter_mask: np.ndarray | None = None, user_vector: np.ndarray | None = None) -> SearchResult:
    mentions = index.linker.link(query)
    mask = index.catalog.active.copy() if filter_mask is None else index.catalog.active & filter_mask
    lists: dict[str, dict[int, int]] = {}
    lexical = index.bm25.scores(query)
    lists["bm25"] = _ranks(lexical, mask, CANDIDATES_PER_LIST)
    dense = None
    if encoder is not None and index.text_emb is not None:
        dense = index.text_emb @ encoder.encode(query)
        lists["dense"] = _ranks(dense, mask, CANDIDATES_PER_LIST)
    lists["graph"] = _ranks(graph_scores(index, mentions), mask, CANDIDATES_PER_LIST)
    fused: dict[int, float] = {}
    for ranks in lists.values():
        for i, r in ranks.items():
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r + 1)
    personalised = user_vector is not None and bool(fused)
    if personalised and user_vector is not None:
        cand = np.fromiter(fused, dtype=np.int64)
        affinity = np.where(index.has_embedding[cand], index.product_emb[cand] @ user_vector, -np.inf)
        for r, j in enumerate(np.argsort(-affinity, kind="stable")):
            if np.isfinite(affinity[j]):
                fused[int(cand[j])] += PERSONAL_WEIGHT / (RRF_K + r + 1)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    hits = [SearchHit(i, fused[i], _matched(index, query, i, mentions, lists, dense, personalised))
            for i in order]
    return SearchResult(mentions, hits, personalised, {name: len(r) for name, r in lists.items()})


def _matched(index: ServingIndex, query: str, i: int, mentions: list[Mention], lists: dict[str, dict[int, int]],
             dense: np.ndarray | None, personalised: bool) -> list[str]:
    c = index.catalog
    out = []
    for m in mentions:
        if m.index in set(c.attributes[m.node_type].row(i).tolist()):
            out.append(f"{m.node_type}={m.name}")
    if i in lists["bm25"]:
        words = index.bm25.matched_terms(query, i)
        if words:
            out.append("text: " + ", ".join(words))
    if dense is not None and i in lists.get("dense", {}) and dense[i] >= MIN_SEMANTIC:
        out.append(f"semantic similarity {dense[i]:.2f}")
    if personalised:
        out.append("ranked for you")
    return out
