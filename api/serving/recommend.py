"""Recommendations and similar products from the serving index: one matrix-vector product and a top-k.

The user's vector is, in order of preference:
- for a sequence bundle (``kg_sasrec``): the model's user encoder run over everything known, oldest first: the
  user's interactions in the graph, their recent events, the items given in the request; blended with its
  encoding of the graph history alone by the bundle's recent weight, so that every event counts in the next
  answer without erasing a long history. A user the bundle never saw is served from their first event;
- for an EASE bundle: the sum of the bundle's history rows of every product the user has (interactions in the
  graph, recent events, items in the request): the model's own scores, so every event counts exactly and a
  user the bundle never saw is served from their first event;
- their GNN embedding (users the bundle was trained with), blended with the pooled embeddings of their recent
  events (``POST /events``) by the bundle's recent weight, so that what they did since training counts at once;
  the weight is chosen on validation (:mod:`gnn.recent`);
- for users the bundle does not know: the pooled embeddings of the items given in the request, their recent
  events and their interactions in the graph (users added after training);
- for users with none of these: no vector; the answer is the most popular products within the filters.
Pooling is a weighted mean of unit item vectors (purchase 1, cart 0.75, view 0.5, items in the request 1).
A sequence bundle whose validation chose a transition lookup also adds, beside the dot products, the exact
transition scores of the newest items of that ordered list (what followed them in every history the catalog
knows: :class:`gnn.transitions.TransitionLookup`), a few dozen sparse entries per request.
Every answer excludes inactive products, and by default what the user already interacted with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from api.events import EVENT_WEIGHT, RecentEvent
from api.serving.catalog import INTERACTION_KINDS, LINK_RELATIONS
from api.serving.index import ServingIndex
from gnn.history import HistoryEncoder
from gnn.recent import blend

#: History items considered when explaining a recommendation in one line.
MAX_ANCHORS = 30
_VERBS = {"PURCHASED": "bought", "VIEWED": "viewed", "RATED": "rated", "purchase": "bought", "view": "viewed",
          "cart": "added to your cart", "request": "picked"}
_LINK_PHRASES = {"bought_together": "often bought together with", "also_bought": "also bought by buyers of",
                 "also_viewed": "viewed alongside"}


@dataclass(frozen=True)
class Hit:
    index: int
    score: float
    reason: str
    links: tuple[str, ...] = ()


@dataclass
class Recommendation:
    strategy: str
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)


@dataclass
class UserContext:
    """What is known about the user at request time: indexes of history items and how they were touched."""

    vector: np.ndarray | None
    strategy: str
    anchors: list[tuple[int, str]]
    seen: np.ndarray
    #: A sequence model's input, oldest first (what its transition lookup reads); empty for other models.
    sequence: tuple[int, ...] = ()
    #: ``|vector| / |the encoder's own vector|``: puts scores on the model's scale when ``vector`` is a blend.
    score_scale: float = 1.0
    #: ``[P]`` the model's exact scores where it has them beside its vector (EASE's item regression); None:
    #: the scores are the vector's dot products.
    scores: np.ndarray | None = None


def title(index: ServingIndex, i: int, width: int = 60) -> str:
    t = index.catalog.titles[i] or index.catalog.product_ids[i]
    return t if len(t) <= width else t[: width - 1] + "…"


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` largest finite scores, best first (``-inf`` marks excluded products)."""
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    # argpartition on the scores themselves (no negated copy of a 100k array): the last k are the largest.
    part = np.argpartition(scores, n - k)[n - k:] if k < n else np.arange(n)
    order = part[np.argsort(-scores[part], kind="stable")]
    return order[np.isfinite(scores[order])]


def _pool(index: ServingIndex, weighted: Sequence[tuple[int, float]]) -> np.ndarray | None:
    rows = [(i, w) for i, w in weighted if index.has_embedding[i]]
    if not rows:
        return None
    ids = np.array([i for i, _ in rows])
    w = np.array([w for _, w in rows], dtype=np.float32)
    pooled = (index.product_unit[ids] * w[:, None]).sum(0) / w.sum()
    norm = float(np.linalg.norm(pooled))
    return pooled / norm if norm > 0 else None


def user_context(index: ServingIndex, user_id: str, recent: Sequence[RecentEvent],
                 items: Sequence[int] = ()) -> UserContext:
    """The user's vector, strategy, history anchors (index, verb) and seen items."""
    pidx = index.catalog.product_index
    hist, kinds = index.catalog.user_history(user_id)
    anchors = [(int(i), _VERBS[INTERACTION_KINDS[int(k)]]) for i, k in zip(hist, kinds, strict=True)]
    recent_idx = [(pidx[e.product_id], e.type) for e in recent if e.product_id in pidx]
    anchors += [(i, _VERBS[t]) for i, t in recent_idx] + [(int(i), _VERBS["request"]) for i in items]
    seen = np.unique(np.array([a for a, _ in anchors if _ != _VERBS["request"]], dtype=np.int64))
    if index.history_encoder is not None:
        recent_items = [*(i for i, _ in recent_idx), *map(int, items)]
        return _sequence_context(index.history_encoder, index.recent_weight, [int(i) for i in hist], recent_items,
                                 anchors, seen)
    if index.history_rows is not None:
        return _item_regression_context(index.history_rows, index.history_scores,
                                        [*map(int, hist), *(i for i, _ in recent_idx), *map(int, items)],
                                        anchors, seen)
    pooled_recent = _pool(index, [(i, EVENT_WEIGHT[t]) for i, t in recent_idx] + [(int(i), 1.0) for i in items])
    u = index.user_index.get(user_id)
    if u is not None:
        base = index.user_emb[u]
        base = base / max(float(np.linalg.norm(base)), 1e-12)
        if pooled_recent is not None:
            return UserContext(blend(base, pooled_recent, index.recent_weight), "personalised+recent", anchors, seen)
        return UserContext(base, "personalised", anchors, seen)
    pooled_all = _pool(index, [(i, EVENT_WEIGHT["purchase"]) for i in hist] + [(i, EVENT_WEIGHT[t])
                                                                                 for i, t in recent_idx]
                       + [(int(i), 1.0) for i in items])
    if pooled_all is not None:
        return UserContext(pooled_all, "pooled_items", anchors, seen)
    return UserContext(None, "popular", anchors, seen)


def _item_regression_context(rows: np.ndarray, weights: np.ndarray | None, items: list[int],
                             anchors: list[tuple[int, str]], seen: np.ndarray) -> UserContext:
    """EASE's user vector, the sum of the history rows of the distinct products the user has (each counts once,
    as in its binary interaction matrix), and, with its exact ``weights``, the sum of their rows of those: the
    scores it ranks by; popular products when no product has a row."""
    distinct = np.unique(np.asarray(items, dtype=np.int64))
    vector = rows[distinct].sum(axis=0) if items else None
    if vector is None or not np.any(vector):
        return UserContext(None, "popular", anchors, seen)
    scores = weights[distinct].sum(axis=0, dtype=np.float32) if weights is not None else None
    return UserContext(vector, "item_regression", anchors, seen, scores=scores)


def _sequence_context(encoder: HistoryEncoder, weight: float, hist: list[int], recent: list[int],
                      anchors: list[tuple[int, str]], seen: np.ndarray) -> UserContext:
    """The sequence model's vector after ``hist`` then ``recent``, blended by ``weight`` with its vector after
    ``hist`` alone (a long history is not erased by a few events)."""
    sequence = (*hist, *recent)
    after = encoder.encode(sequence)
    if after is None:
        return UserContext(None, "popular", anchors, seen)
    if not recent:
        return UserContext(after, "sequence", anchors, seen, sequence)
    before = encoder.encode(hist)
    vector = after if before is None else blend(before, after, weight)
    # The blend is of unit vectors; a score added beside the dot products is on the scale of the encoder's own.
    scale = float(np.linalg.norm(vector)) / max(float(np.linalg.norm(after)), 1e-12)
    return UserContext(vector, "sequence+recent", anchors, seen, sequence, scale)


def _candidate_mask(index: ServingIndex, filter_mask: np.ndarray | None, exclude: np.ndarray) -> np.ndarray:
    mask = index.recommendable.copy() if filter_mask is None else index.recommendable & filter_mask
    if len(exclude):
        mask[exclude] = False
    return mask


def _link_reason(index: ServingIndex, i: int, is_anchor: np.ndarray, anchors: dict[int, str]) -> str | None:
    for rel in ("bought_together", "also_bought", "also_viewed"):
        row = index.catalog.links[rel].row(i)
        hit = row[is_anchor[row]]
        if len(hit):
            j = int(hit[0])
            return f"{_LINK_PHRASES[rel]} “{title(index, j)}” that you {anchors[j]}"
    return None


def _follow_reason(index: ServingIndex, i: int, ctx: UserContext, anchors: dict[int, str]) -> str | None:
    """"chosen right after X", X the newest of the items the transition lookup read that ``i`` followed."""
    lookup = index.transition_lookup
    if lookup is None or not ctx.sequence:
        return None
    for j in reversed(ctx.sequence[-lookup.last:]):
        if j in anchors and lookup.was_followed_by(j, i):  # seen after j, not lent from similar products
            return f"often chosen right after “{title(index, j)}” that you {anchors[j]}"
    return None


def reasons(index: ServingIndex, items: np.ndarray, scores: np.ndarray, ctx: UserContext) -> list[str]:
    """One line per recommended product saying why (what other shoppers chose right after a history item, a
    co-purchase link to, or similarity with, a history item)."""
    anchors = dict(ctx.anchors[-MAX_ANCHORS:])
    anchor_ids = np.fromiter(anchors, dtype=np.int64, count=len(anchors))
    sims = index.product_unit[items] @ index.product_unit[anchor_ids].T if len(anchor_ids) else None
    brands = index.catalog.attributes["brand"]
    anchor_brands = {int(b) for j in anchor_ids for b in brands.row(int(j))}
    is_anchor = np.zeros(index.num_products, dtype=bool)
    is_anchor[anchor_ids] = True
    out = []
    for row, i in enumerate(items.tolist()):
        linked = _follow_reason(index, i, ctx, anchors) or _link_reason(index, i, is_anchor, anchors)
        if linked:
            out.append(linked)
            continue
        if sims is not None and index.has_embedding[i]:
            best = int(np.argmax(sims[row]))
            if sims[row, best] >= index.reason_similarity:  # measured per bundle: see reason_threshold
                j = int(anchor_ids[best])
                out.append(f"similar to “{title(index, j)}” that you {anchors[j]} (similarity {sims[row, best]:.2f})")
                continue
        brand = brands.row(i)
        if len(brand) and int(brand[0]) in anchor_brands:
            out.append(f"from {index.catalog.display_name('brand', int(brand[0]))}, a brand you know")
        else:
            out.append(f"predicted from your activity and the product graph (score {scores[row]:.2f})")
    return out


def recommend(index: ServingIndex, user_id: str, k: int, *, filter_mask: np.ndarray | None = None,
              exclude_seen: bool = True, recent: Sequence[RecentEvent] = (), items: Sequence[int] = (),
              filter_label: str = "") -> Recommendation:
    """Top ``k`` products for ``user_id``; never fails for an unknown user (popular items instead)."""
    ctx = user_context(index, user_id, recent, items)
    exclude = np.unique(np.concatenate([ctx.seen, np.asarray(items, dtype=np.int64)])) if exclude_seen \
        else np.asarray(items, dtype=np.int64)
    mask = _candidate_mask(index, filter_mask, exclude)
    if ctx.vector is None:
        scores = np.where(mask, index.catalog.popularity, -np.inf)
        within = f" within {filter_label}" if filter_label else ""
        hits = [Hit(int(i), float(scores[i]), f"popular{within}: {int(scores[i])} interactions")
                for i in top_k(scores, k)]
        return Recommendation("popular", hits, ["cold start: no history known for this user"])
    # A trained user vector scores by dot product, as in training; a pooled one by cosine (it is a mean of
    # unit item vectors: "like what you touched", without favouring products with large embeddings).
    if ctx.scores is not None:
        scores = ctx.scores.copy()
    elif ctx.strategy == "pooled_items":
        scores = index.product_unit @ ctx.vector.astype(np.float32)
    else:
        scores = index.model_scores(ctx.vector)
    if index.transition_lookup is not None and ctx.sequence:
        products, boost = index.transition_lookup.sparse_scores(np.asarray(ctx.sequence, dtype=np.int64))
        scores[products] += boost * ctx.score_scale
    np.copyto(scores, -np.inf, where=~mask)
    best = top_k(scores, k)
    lines = reasons(index, best, scores[best], ctx)
    return Recommendation(ctx.strategy, [Hit(int(i), float(scores[i]), line)
                                         for i, line in zip(best.tolist(), lines, strict=True)])


def linked_products(index: ServingIndex, i: int) -> dict[int, list[str]]:
    """Products linked to ``i`` by co-purchase / co-view edges -> the relationship types joining them."""
    out: dict[int, list[str]] = {}
    for rel, rel_type in LINK_RELATIONS.items():
        for j in index.catalog.links[rel].row(i):
            out.setdefault(int(j), []).append(rel_type)
    return out


def similar(index: ServingIndex, i: int, k: int, *, filter_mask: np.ndarray | None = None) -> list[Hit]:
    """Products closest to ``i`` by cosine of GNN embeddings, each with its co-purchase links to ``i``.

    A product without an embedding (added after a non-GNN bundle) gets its linked products instead.
    """
    links = linked_products(index, i)
    mask = _candidate_mask(index, filter_mask, np.array([i], dtype=np.int64))
    if index.has_embedding[i]:
        scores = index.product_unit @ index.product_unit[i]
        scores[~mask] = -np.inf
        order = top_k(scores, k)
        return [Hit(int(j), float(scores[j]), _similar_reason(links.get(int(j), []), float(scores[j])),
                    tuple(links.get(int(j), []))) for j in order]
    linked = [j for j in links if mask[j]]
    linked.sort(key=lambda j: -index.catalog.popularity[j])
    return [Hit(j, 0.0, _similar_reason(links[j], None), tuple(links[j])) for j in linked[:k]]


def _similar_reason(links: Sequence[str], score: float | None) -> str:
    parts = [f"embedding similarity {score:.2f}"] if score is not None else []
    if links:
        parts.append("linked by " + ", ".join(links))
    return "; ".join(parts)
