"""Full-ranking evaluation: every candidate product is scored for every evaluated user.

For each user with at least one held-out positive, all candidate products are ranked by score, after the
user's known items (train, and for test also valid) are excluded. Metrics, averaged over those users:

- ``recall@k``  = hits in the top k / number of positives (:class:`torch_geometric.metrics.LinkPredRecall`);
- ``ndcg@k``    = DCG with discount ``1/log2(rank+1)``, binary gains, over the ideal DCG of
  ``min(#positives, k)`` hits (:class:`~torch_geometric.metrics.LinkPredNDCG`);
- ``hit@k``     = 1 if any positive is in the top k (:class:`~torch_geometric.metrics.LinkPredHitRatio`);
- ``mrr``       = 1 / rank of the best-ranked positive over the *full* ranking (not truncated at k), where
  rank = 1 + number of candidates scored strictly higher + half the others tied with it (the expected
  rank under random tie-breaking, so a constant scorer gets no credit); computed here;
- ``coverage@k`` = share of the candidate products that appear in at least one user's top k.

Users are scored in batches, so memory is ``O(batch_size * num_products)``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.metrics import LinkPredHitRatio, LinkPredNDCG, LinkPredRecall

ScoreFn = Callable[[Tensor], Tensor]
"""``users [B] (long) -> scores [B, num_products] (float)``."""


def _csr(pairs: np.ndarray, num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Group ``[2, E]`` (user, product) pairs by user: (row pointer ``[U+1]``, products sorted by user)."""
    if pairs.size == 0:
        return np.zeros(num_users + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((pairs[1], pairs[0]))
    users, products = pairs[0, order], pairs[1, order]
    ptr = np.searchsorted(users, np.arange(num_users + 1)).astype(np.int64)
    return ptr, products.astype(np.int64)


def evaluate_ranking(
    score_fn: ScoreFn,
    positives: np.ndarray,
    num_users: int,
    num_products: int,
    *,
    exclude: Sequence[np.ndarray] = (),
    candidates: np.ndarray | None = None,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
    ndcg_only: bool = False,
) -> dict[str, float]:
    """Rank all candidate products for every user that has a positive; return the metrics.

    Args:
        score_fn: scores of all products for a batch of users, ``[B] -> [B, num_products]``.
        positives: ``[2, E]`` (user, product) held-out pairs to find.
        num_users, num_products: sizes of the index spaces.
        exclude: ``[2, E]`` pair arrays never ranked for their user (known items); positives are never
            excluded even if listed here.
        candidates: ``[num_products]`` bool mask of rankable products (``None``: all). Positives outside it
            cannot be found and count as misses.
        ks: cut-offs for recall and NDCG; hit rate and coverage use the smallest.
        batch_size: users per scoring batch.
        ndcg_only: compute ``ndcg@k`` (and ``users``) only: what early stopping and calibration choose by. The
            full-ranking MRR compares every score of a user with the positive's and costs about half of a
            batch's time, which a loop that evaluates after every epoch or for every cell of a grid need not pay.

    Returns:
        ``{"recall@10", "ndcg@10", "recall@20", "ndcg@20", "hit@10", "mrr", "coverage@10", "users"}``
        (names follow ``ks``); all zero when there is no positive.
    """
    return evaluate_ranking_grid(lambda users: [(None, score_fn(users))], positives, num_users, num_products,
                                 exclude=exclude, candidates=candidates, ks=ks, batch_size=batch_size,
                                 ndcg_only=ndcg_only)[None]


GridScoreFn = Callable[[Tensor], Iterable[tuple[Hashable, Tensor]]]
"""``users [B] (long) -> (key, scores [B, num_products])`` for every scorer of a grid, yielded one at a time."""


def evaluate_ranking_grid(
    score_grid: GridScoreFn,
    positives: np.ndarray,
    num_users: int,
    num_products: int,
    *,
    exclude: Sequence[np.ndarray] = (),
    candidates: np.ndarray | None = None,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
    ndcg_only: bool = False,
) -> dict[Hashable, dict[str, float]]:
    """:func:`evaluate_ranking` of several scorers in one pass over the users: ``score_grid`` yields each
    scorer's ``(key, scores)`` for a batch, so scorers that share work (a base score plus a weighted channel,
    for a grid of weights) compute it once per batch; only one ``[B, num_products]`` matrix per scorer is alive
    at a time if ``score_grid`` is a generator. Returns each key's metrics, as :func:`evaluate_ranking` would
    (all zero when no user has a positive: the grid is then asked for its keys with an empty batch);
    ``ndcg_only`` as there."""
    ks = sorted(set(ks))
    pos_ptr, pos_items = _csr(positives, num_users)
    excl = [_csr(e, num_users) for e in exclude if e.size]
    users = np.flatnonzero(np.diff(pos_ptr) > 0)
    cand = torch.ones(num_products, dtype=torch.bool) if candidates is None else torch.from_numpy(candidates)
    accumulators: dict[Hashable, _RankingAccumulator] = {}
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        counts = pos_ptr[batch + 1] - pos_ptr[batch]
        rows = np.repeat(np.arange(len(batch)), counts)
        cols = np.concatenate([pos_items[pos_ptr[u]:pos_ptr[u + 1]] for u in batch])
        positive = (torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(cols.astype(np.int64)))
        excluded = []
        for ptr, items in excl:
            e_counts = ptr[batch + 1] - ptr[batch]
            e_rows = np.repeat(np.arange(len(batch)), e_counts)
            e_cols = np.concatenate([items[ptr[u]:ptr[u + 1]] for u in batch]) if e_counts.sum() else items[:0]
            excluded.append((torch.from_numpy(e_rows.astype(np.int64)), torch.from_numpy(e_cols.astype(np.int64))))
        with torch.no_grad():
            for key, raw in score_grid(torch.from_numpy(batch)):
                scores = raw.detach().to(torch.float32, copy=True)  # one copy, whatever the dtype
                if scores.shape != (len(batch), num_products):
                    raise ValueError(f"score_fn returned {tuple(scores.shape)}, expected {(len(batch), num_products)}")
                if key not in accumulators:
                    accumulators[key] = _RankingAccumulator(ks, num_products, cand, ndcg_only=ndcg_only)
                accumulators[key].update(scores, positive, excluded)
    if not len(users):  # no user has a positive: every figure of every scorer is 0
        accumulators = {key: _RankingAccumulator(ks, num_products, cand, ndcg_only=ndcg_only)
                        for key, _ in score_grid(torch.zeros(0, dtype=torch.long))}
    return {key: acc.compute(len(users)) for key, acc in accumulators.items()}


class _RankingAccumulator:
    """One scorer's running metrics over batches of users (see the module docstring for the definitions)."""

    def __init__(self, ks: list[int], num_products: int, candidates: Tensor, *, ndcg_only: bool = False) -> None:
        self.ks, self.num_products, self.cand, self.ndcg_only = ks, num_products, candidates, ndcg_only
        self.recall = {k: LinkPredRecall(k) for k in ks}
        self.ndcg = {k: LinkPredNDCG(k) for k in ks}
        self.hit = LinkPredHitRatio(ks[0])
        self.covered = torch.zeros(num_products, dtype=torch.bool)
        self.rr_sum = 0.0

    def update(self, scores: Tensor, positive: tuple[Tensor, Tensor],
               excluded: list[tuple[Tensor, Tensor]]) -> None:
        """Add a batch: ``scores [B, P]`` (modified in place), the positives' and the excluded pairs'
        (batch-local row, product) index tensors."""
        rows_t, cols_t = positive
        k_small, k_max, num_products = self.ks[0], self.ks[-1], self.num_products
        neg_inf = torch.tensor(float("-inf"))
        scores = scores.masked_fill_(~self.cand.unsqueeze(0), float("-inf"))
        for e_rows, e_cols in excluded:
            saved = scores[rows_t, cols_t].clone()
            scores[e_rows, e_cols] = neg_inf
            scores[rows_t, cols_t] = saved  # a positive is never excluded
        label_index = torch.stack([rows_t, cols_t])
        top = scores.topk(min(k_max, num_products), dim=1)
        # A -inf entry in the top k (fewer candidates than k) must not count as a hit: point it at the
        # sentinel index num_products, which no label has (PyG flattens row * max_index + col, so a
        # negative sentinel would alias the previous row's last product).
        top_index = torch.where(torch.isneginf(top.values), torch.full_like(top.indices, num_products), top.indices)
        for k in self.ks:
            self.ndcg[k].update(top_index[:, :k], label_index)
        if self.ndcg_only:
            return
        for k in self.ks:
            self.recall[k].update(top_index[:, :k], label_index)
        self.hit.update(top_index[:, :k_small], label_index)
        small = top_index[:, :k_small]
        self.covered[small[small < num_products]] = True
        # Full-ranking reciprocal rank of the best positive.
        pos_scores = scores[rows_t, cols_t]
        pos_valid = self.cand[cols_t] & torch.isfinite(pos_scores)
        user_scores = scores[rows_t]
        # int32 sums: summing bools to the default int64 is 2-3x slower, and counts fit (< 2^31 products).
        greater = (user_scores > pos_scores.unsqueeze(1)).sum(dim=1, dtype=torch.int32)
        equal = (user_scores == pos_scores.unsqueeze(1)).sum(dim=1, dtype=torch.int32)  # itself included
        # Ties are broken at random in expectation: the positive sits in the middle of its tie group.
        rank = greater.double() + (equal.double() + 1) / 2
        rank = torch.where(pos_valid, rank, torch.full_like(rank, float("inf")))
        best = torch.full((scores.size(0),), float("inf"), dtype=torch.float64)
        best = best.scatter_reduce(0, rows_t, rank, reduce="amin")
        self.rr_sum += float((1.0 / best).sum())

    def compute(self, n_users: int) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.ndcg_only:
            return {**{f"ndcg@{k}": float(self.ndcg[k].compute()) if n_users else 0.0 for k in self.ks},
                    "users": float(n_users)}
        for k in self.ks:
            out[f"recall@{k}"] = float(self.recall[k].compute()) if n_users else 0.0
            out[f"ndcg@{k}"] = float(self.ndcg[k].compute()) if n_users else 0.0
        out[f"hit@{self.ks[0]}"] = float(self.hit.compute()) if n_users else 0.0
        out["mrr"] = self.rr_sum / n_users if n_users else 0.0
        out[f"coverage@{self.ks[0]}"] = (float(self.covered[self.cand].sum()) / max(int(self.cand.sum()), 1)
                                         if n_users else 0.0)
        out["users"] = float(n_users)
        return out


def embedding_score_fn(user_emb: Tensor, item_emb: Tensor, boost: ScoreFn | None = None) -> ScoreFn:
    """Dot-product scores from ``user_emb [U, d]`` and ``item_emb [P, d]``, plus ``boost(users)`` ``[B, P]``
    when given (a score no vector carries, e.g. :class:`gnn.transitions.TransitionLookup`)."""

    def score(users: Tensor) -> Tensor:
        dots = user_emb[users] @ item_emb.T
        return dots if boost is None else dots + boost(users)

    return score


def top_k_rankings(score_fn: ScoreFn, users: np.ndarray, num_users: int, num_products: int, k: int, *,
                   exclude: Sequence[np.ndarray] = (), candidates: np.ndarray | None = None,
                   batch_size: int = 1024) -> np.ndarray:
    """``[num_users, k]`` int64: each of ``users``' top ``k`` candidate products by score, best first.

    The ``exclude`` pairs and non-candidates are never ranked; other rows, and slots beyond the number of
    rankable products, hold ``-1``. The same masking as :func:`evaluate_ranking`, so that a model's exported
    rankings and its own evaluation agree.
    """
    out = np.full((num_users, k), -1, dtype=np.int64)
    excl = [_csr(e, num_users) for e in exclude if e.size]
    cand = torch.ones(num_products, dtype=torch.bool) if candidates is None else torch.from_numpy(candidates)
    users = np.asarray(users, dtype=np.int64)
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        with torch.no_grad():
            scores = score_fn(torch.from_numpy(batch)).detach().to(torch.float32).clone()
        scores = torch.where(cand.unsqueeze(0), scores, torch.tensor(float("-inf")))
        for ptr, items in excl:
            counts = ptr[batch + 1] - ptr[batch]
            if counts.sum():
                rows = np.repeat(np.arange(len(batch)), counts)
                cols = np.concatenate([items[ptr[u]:ptr[u + 1]] for u in batch])
                scores[torch.from_numpy(rows), torch.from_numpy(cols)] = float("-inf")
        top = scores.topk(min(k, num_products), dim=1)
        index = torch.where(torch.isneginf(top.values), torch.full_like(top.indices, -1), top.indices)
        out[batch, :index.size(1)] = index.numpy()
    return out


def rankings_score_fn(rankings: np.ndarray, num_products: int) -> ScoreFn:
    """A :data:`ScoreFn` from exported rankings ``[num_users, K]`` (product indexes, best first, ``-1`` padded).

    The product at rank ``r`` (0-based) scores ``K - r``; every other product ``-inf``. With it,
    :func:`evaluate_ranking` computes any model's metrics from its top-K lists alone (a peer library's output,
    say) with the same code as for Cartograph's own models: recall / NDCG / hit at ``k <= K`` are exact;
    ``mrr`` becomes MRR@K (a positive outside the list counts 0). Memory: one ``[B, num_products]`` batch.
    """
    if rankings.max(initial=-1) >= num_products:
        raise ValueError(f"rankings name product {int(rankings.max())}, but there are only {num_products}")
    ranked = torch.from_numpy(np.ascontiguousarray(rankings, dtype=np.int64))
    k = ranked.size(1)
    rank_score = torch.arange(k, 0, -1, dtype=torch.float32)

    def score(users: Tensor) -> Tensor:
        top = ranked[users]
        out = torch.full((top.size(0), num_products), float("-inf"))
        rows, cols = torch.nonzero(top >= 0, as_tuple=True)
        out[rows, top[rows, cols]] = rank_score[cols]
        return out

    return score


def evaluate_rankings(rankings: np.ndarray, positives: np.ndarray, num_products: int, *,
                      exclude: Sequence[np.ndarray] = (), candidates: np.ndarray | None = None,
                      ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """:func:`evaluate_ranking` of exported top-K lists, one row per user index (see :func:`rankings_score_fn`).

    ``max(ks)`` must not exceed K: the metrics would silently miss what lies below the lists' end.
    """
    if max(ks) > rankings.shape[1]:
        raise ValueError(f"rankings hold {rankings.shape[1]} items per user; cannot evaluate at k={max(ks)}")
    return evaluate_ranking(rankings_score_fn(rankings, num_products), positives, rankings.shape[0], num_products,
                            exclude=exclude, candidates=candidates, ks=ks)


def per_user_metric(rankings: np.ndarray, positives: np.ndarray, metric: str = "ndcg@10"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(users, ``metric`` of each): every user with a positive, from top-K lists (:func:`top_k_rankings`,
    ``K >= k``); ``metric`` is ``ndcg@k`` or ``recall@k``.

    The same definitions as :func:`evaluate_ranking`'s (NDCG: binary gains over the ideal DCG of
    ``min(#positives, k)`` hits; recall: hits over the number of positives), so the mean of these equals its
    figure for the same masking; kept per user for paired comparisons between models (bootstrap intervals on
    their ratio).
    """
    name, _, cut = metric.partition("@")
    if name not in ("ndcg", "recall") or not cut.isdigit():
        raise ValueError(f"unknown per-user metric {metric!r}: expected ndcg@k or recall@k")
    k = int(cut)
    if k > rankings.shape[1]:
        raise ValueError(f"rankings hold {rankings.shape[1]} items per user; cannot compute {metric}")
    ptr, items = _csr(positives, rankings.shape[0])
    users = np.flatnonzero(np.diff(ptr) > 0)
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.cumsum(discount)
    out = np.zeros(len(users))
    for i, u in enumerate(users):
        wanted = items[ptr[u]:ptr[u + 1]]
        hits = np.isin(rankings[u, :k], wanted)
        out[i] = (float(discount[hits].sum()) / ideal[min(len(wanted), k) - 1] if name == "ndcg"
                  else hits.sum() / len(wanted))
    return users, out
