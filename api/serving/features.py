"""Ranking features of one query's candidates: what the ranker (learned or hand-weighted) scores.

One row per candidate product, one column per name in :data:`FEATURES`. Every column is computed from the
same in-memory index that serves, so the features a ranker is trained on are the features it is served with.
The user's model score is not a column: personalisation is blended after ranking with a configured weight
(:mod:`api.serving.search`), so the judged labels, which have no user, train the ranker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from api.serving.bm25 import BM25Index
from api.serving.catalog import Catalog
from api.serving.text import terms as terms_of
from api.serving.understand import Understanding

FEATURES: tuple[str, ...] = (
    # retrieval: each list's raw score and reciprocal rank; how many lists found the product
    "bm25", "bm25_norm", "bm25_rrf", "dense", "dense_rrf", "dense_gap", "graph", "graph_rrf", "lists",
    # the query's similarity to the title alone (the dense list reads title and description together, and a long
    # description about what a product goes with pulls it towards queries for those), and its gap to the best
    "title_dense", "title_dense_gap",
    # BM25 over the titles alone (its raw score and its share of the query's best): the query's rare words in the
    # title, where "bm25" over the whole text also counts a description that names them in passing
    "title_bm25", "title_bm25_norm",
    # the query's similarity to the closest of the product's category names ("Eyeliner", "Makeup Brushes & Tools")
    "category_dense",
    # lexical match: share of the query's words in the title, in the whole text
    "title_cover", "text_cover",
    # typed constraints: share kept (all, brand, type, other attributes), all kept, share of linked nodes;
    # share of the query's product types the product *is* (in its title or category, not only mentioned), and
    # whether it is the query's head type (the noun the rest of the query modifies: "lamp" of "nail polish uv lamp")
    "kept", "all_kept", "brand", "product_type", "attributes", "mentions", "type_held", "head_type_held",
    # whether the type the product's title is about (its first, :func:`api.serving.understand.title_head`) is the
    # query's head type, and whether the title names a type at all: "shredder bags for ... shredders" holds the
    # type "shredder" in its title, but is about bags
    "title_head", "title_typed",
    "popularity",
    # the query itself (constant within a query: lets the trees weigh the rest by kind of query)
    "query_terms", "constraints", "corrected", "product_types",
)
RRF_K = 60.0


@dataclass
class Retrieval:
    """The candidate lists of one query: product -> 0-based rank per list, and the raw score arrays."""

    ranks: dict[str, dict[int, int]]
    bm25: np.ndarray
    dense: np.ndarray | None
    graph: np.ndarray
    skipped: list[str] = field(default_factory=list)
    """Retrieval steps left out, with why (the dense list when the text model was too busy)."""
    query_vector: np.ndarray | None = None
    """``[d]`` the query's unit text vector (None: no dense retrieval)."""

    def candidates(self) -> np.ndarray:
        found = {i for r in self.ranks.values() for i in r}
        return np.array(sorted(found), dtype=np.int64)


def _rrf(ranks: dict[int, int], cand: np.ndarray) -> np.ndarray:
    return np.array([1.0 / (RRF_K + ranks[i] + 1) if i in ranks else 0.0 for i in cand.tolist()])


def _fraction(cand: np.ndarray, keeps: list[np.ndarray]) -> np.ndarray:
    if not keeps:
        return np.zeros(len(cand))
    return np.mean([k[cand] for k in keeps], axis=0)


def _mentions(u: Understanding, catalog: Catalog, cand: np.ndarray) -> np.ndarray:
    """Per candidate, the share of the query's linked nodes (brand, category, entity) it is attached to."""
    if not u.mentions:
        return np.zeros(len(cand))
    hit = np.zeros(catalog.num_products, dtype=np.float64)
    for m in u.mentions:
        hit[catalog.members[m.node_type].row(m.index)] += 1.0
    return hit[cand] / len(u.mentions)


def _closest_category(catalog: Catalog, cand: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """Per candidate, the highest ``similarity`` among its categories (0 with none), in one pass over the
    candidates' category lists laid end to end."""
    categories = catalog.attributes.get("category")
    out = np.zeros(len(cand))
    if categories is None or not len(cand):
        return out
    starts, sizes = categories.ptr[cand], categories.sizes()[cand]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.arange(int(sizes.sum())) - np.repeat(offsets, sizes) + np.repeat(starts, sizes)
    some = sizes > 0
    if some.any():
        out[some] = np.maximum.reduceat(similarity[categories.idx[flat]], offsets[some])
    return out


def feature_matrix(u: Understanding, r: Retrieval, cand: np.ndarray, *, bm25_index: BM25Index, catalog: Catalog,
                   title_terms: list[frozenset[str]], query_terms: list[str],
                   title_heads: list[str] | None = None, title_emb: np.ndarray | None = None,
                   title_bm25: BM25Index | None = None, category_emb: np.ndarray | None = None) -> np.ndarray:
    """``[len(cand), len(FEATURES)]`` float32 features (see :data:`FEATURES` for the order). ``title_emb``:
    ``[P, d]`` the products' unit title vectors (None, or no query vector: the title similarity is 0);
    ``title_bm25``: BM25 over the titles (None: its features are 0); ``category_emb``: ``[C, d]`` the category
    names' unit vectors (None, or no query vector: 0)."""
    bm25 = r.bm25[cand].astype(np.float64)
    rank_keeps = [c.keep for c in u.of("rank") if c.keep is not None]
    by_kind = {kind: [c.keep for c in u.of("rank") if c.kind == kind and c.keep is not None]
               for kind in ("brand", "product_type")}
    others = [c.keep for c in u.of("rank") if c.kind not in by_kind and c.keep is not None]
    held = [c.held for c in u.of("rank") if c.kind == "product_type" and c.held is not None]
    head = [c.held for c in u.of("rank") if c.kind == "product_type" and c.head and c.held is not None]
    terms = set(query_terms)
    cover = np.array([len(terms & title_terms[i]) / len(terms) if terms else 0.0 for i in cand.tolist()])
    popularity = catalog.popularity
    pop = np.log1p(popularity[cand]) / max(float(np.log1p(popularity.max())) if len(popularity) else 1.0, 1e-9)
    dense = r.dense[cand].astype(np.float64) if r.dense is not None else np.zeros(len(cand))
    in_title = title_bm25.term_scores(query_terms)[cand].astype(np.float64) if title_bm25 is not None \
        else np.zeros(len(cand))
    title_dense = (title_emb[cand] @ r.query_vector).astype(np.float64) \
        if title_emb is not None and r.query_vector is not None else np.zeros(len(cand))
    kept = _fraction(cand, rank_keeps)
    n = len(cand)
    heads = [title_heads[i] for i in cand.tolist()] if title_heads is not None else [""] * n
    query_head = next(("".join(terms_of(c.value)) for c in u.of("rank") if c.kind == "product_type" and c.head), "")
    category = _closest_category(catalog, cand, category_emb @ r.query_vector) \
        if category_emb is not None and r.query_vector is not None else np.zeros(n)
    cols = {
        "bm25": bm25, "bm25_norm": bm25 / max(float(bm25.max()) if n else 0.0, 1e-9),
        "bm25_rrf": _rrf(r.ranks.get("bm25", {}), cand),
        "dense": dense, "dense_rrf": _rrf(r.ranks.get("dense", {}), cand),
        "dense_gap": dense - (float(dense.max()) if n else 0.0),
        "title_dense": title_dense, "title_dense_gap": title_dense - (float(title_dense.max()) if n else 0.0),
        "category_dense": category, "title_bm25": in_title,
        "title_bm25_norm": in_title / max(float(in_title.max()) if n else 0.0, 1e-9),
        "graph": r.graph[cand] / max(float(r.graph.max()) if len(r.graph) else 0.0, 1e-9),
        "graph_rrf": _rrf(r.ranks.get("graph", {}), cand),
        "lists": np.array([sum(i in ranks for ranks in r.ranks.values()) for i in cand.tolist()], dtype=np.float64),
        "title_cover": cover, "text_cover": bm25_index.coverage(query_terms, cand),
        "kept": kept, "all_kept": (kept >= 1.0).astype(np.float64) if rank_keeps else np.zeros(n),
        "brand": _fraction(cand, by_kind["brand"]), "product_type": _fraction(cand, by_kind["product_type"]),
        "attributes": _fraction(cand, others), "mentions": _mentions(u, catalog, cand),
        "type_held": _fraction(cand, held), "head_type_held": _fraction(cand, head),
        "title_head": np.array([float(bool(query_head) and h.endswith(query_head)) for h in heads]),
        "title_typed": np.array([float(bool(h)) for h in heads]), "popularity": pop,
        "query_terms": np.full(n, float(len(terms))), "constraints": np.full(n, float(len(rank_keeps))),
        "corrected": np.full(n, float(bool(u.corrections))), "product_types": np.full(n, float(len(held))),
    }
    return np.stack([np.asarray(cols[name], dtype=np.float64) for name in FEATURES], axis=1).astype(np.float32)


def kept_counts(u: Understanding, cand: np.ndarray) -> np.ndarray:
    """Per candidate, how many of the query's rank constraints it keeps (the tier it ranks in)."""
    keeps = [c.keep[cand] for c in u.of("rank") if c.keep is not None]
    return np.sum(keeps, axis=0).astype(np.int64) if keeps else np.zeros(len(cand), dtype=np.int64)
