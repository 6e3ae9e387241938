"""gnn.metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnn.metrics import embedding_score_fn, evaluate_ranking, evaluate_ranking_grid, per_user_metric, top_k_rankings


def _fixed(scores: list[list[float]]):  # type: ignore[no-untyped-def]
    table = torch.tensor(scores)

    def score(users: torch.Tensor) -> torch.Tensor:
        return table[users]

    return score


SCORES = [
    [0.9, 0.8, 0.7, 0.6, 0.5],  # user 0
    [0.1, 0.2, 0.3, 0.4, 0.5],  # user 1
    [0.5, 0.5, 0.5, 0.5, 0.5],  # user 2: no positive, never evaluated
]


def test_hand_computed_case() -> None:
    # user 0: positive 2, train item 0 excluded -> ranking 1, 2, 3, 4: the positive is at rank 2.
    #   recall@1 = 0, recall@3 = 1, ndcg@1 = 0, ndcg@3 = 1/log2(3) = 0.63093, hit@1 = 0, rr = 1/2
    # user 1: positives {0, 4}, nothing excluded -> ranking 4, 3, 2, 1, 0: hits at ranks 1 and 5.
    #   recall@1 = 1/2, recall@3 = 1/2, ndcg@1 = 1/1 = 1,
    #   ndcg@3 = 1 / (1 + 1/log2(3)) = 1 / 1.63093 = 0.61315, hit@1 = 1, rr = 1
    # averages over 2 users; coverage@1: top-1 items are {1} and {4} -> 2 of 5 products = 0.4
    positives = np.array([[0, 1, 1], [2, 0, 4]])
    train = np.array([[0], [0]])
    m = evaluate_ranking(_fixed(SCORES), positives, 3, 5, exclude=[train], ks=(1, 3))
    assert m["users"] == 2
    assert m["recall@1"] == pytest.approx(0.25)
    assert m["recall@3"] == pytest.approx(0.75)
    assert m["ndcg@1"] == pytest.approx(0.5)
    assert m["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / (1 + 1 / math.log2(3))) / 2)
    assert m["hit@1"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx(0.75)
    assert m["coverage@1"] == pytest.approx(0.4)


def test_candidates_mask_and_unfindable_positive() -> None:
    # Only products 0-3 are candidates. user 1: positives {0, 4}; 4 is not a candidate (a sure miss),
    # 0 ranks last of 3, 2, 1, 0 -> rank 4. recall@3 = 0/2 = 0, hit@1 = 0, rr = 1/4.
    # coverage@1: top-1 is {3} -> 1 of 4 candidates = 0.25.
    positives = np.array([[1, 1], [0, 4]])
    m = evaluate_ranking(_fixed(SCORES), positives, 3, 5, candidates=np.array([True] * 4 + [False]), ks=(1, 3))
    assert m["recall@3"] == 0.0
    assert m["hit@1"] == 0.0
    assert m["mrr"] == pytest.approx(0.25)
    assert m["coverage@1"] == pytest.approx(0.25)


def test_positive_is_never_excluded_and_ties_are_averaged() -> None:
    # user 2 scores all 0.5; its positive 3 is also listed as excluded (must stay rankable). All 5 tie:
    # expected rank under random tie-breaking = 0 higher + (5 tied + 1) / 2 = 3 -> rr = 1/3.
    positives = np.array([[2], [3]])
    m = evaluate_ranking(_fixed(SCORES), positives, 3, 5, exclude=[positives.copy()], ks=(1, 3))
    assert m["mrr"] == pytest.approx(1 / 3)
    assert m["users"] == 1


def test_fewer_candidates_than_k_across_rows() -> None:
    # 3 products, candidates {0, 1}; k = 3 > 2 candidates, so each top-3 has a -inf slot.
    # user 0: positive 2 (not a candidate): a sure miss; user 1: positive 1, ranked 2nd -> ndcg@3 = 1/log2(3).
    # Averages: ndcg@3 = (0 + 0.63093) / 2; recall@3 = 0.5; no metric may exceed 1.
    m = evaluate_ranking(_fixed([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5]]), np.array([[0, 1], [2, 1]]), 2, 3,
                         candidates=np.array([True, True, False]), ks=(1, 3))
    assert m["ndcg@3"] == pytest.approx(1 / math.log2(3) / 2)
    assert m["recall@3"] == pytest.approx(0.5)
    assert m["coverage@1"] == pytest.approx(0.5)


def test_fewer_candidates_than_k_does_not_count_excluded_as_hits() -> None:
    # 2 products, user 0 has train item 0 excluded and positive 1: top-3 is [1, -inf...] -> recall@3 = 1,
    # ndcg@3 = 1 (rank 1); nothing is counted twice.
    m = evaluate_ranking(_fixed([[0.9, 0.1]]), np.array([[0], [1]]), 1, 2, exclude=[np.array([[0], [0]])],
                         ks=(1, 3))
    assert m["recall@3"] == 1.0
    assert m["ndcg@3"] == pytest.approx(1.0)
    assert m["recall@1"] == 1.0


def _brute_force(scores: np.ndarray, positives: np.ndarray, train: np.ndarray, k: int) -> tuple[float, float, float]:
    recalls, ndcgs, rrs = [], [], []
    for u in np.unique(positives[0]):
        s = scores[u].copy()
        pos = set(positives[1, positives[0] == u].tolist())
        for p in train[1, train[0] == u]:
            if p not in pos:
                s[p] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        hits = [1.0 if p in pos else 0.0 for p in order]
        recalls.append(sum(hits) / len(pos))
        dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(pos), k)))
        ndcgs.append(dcg / idcg)
        best = min(int((s > s[p]).sum()) + 1 for p in pos)
        rrs.append(1 / best)
    return float(np.mean(recalls)), float(np.mean(ndcgs)), float(np.mean(rrs))


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_matches_brute_force_and_is_batch_invariant(batch_size: int) -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 50
    scores = rng.random((n_users, n_items)).astype(np.float32)  # continuous: no ties
    positives = np.stack([rng.integers(0, n_users, 60), rng.integers(0, n_items, 60)])
    positives = np.unique(positives, axis=1)
    train = np.stack([rng.integers(0, n_users, 200), rng.integers(0, n_items, 200)])
    m = evaluate_ranking(_fixed(scores.tolist()), positives, n_users, n_items, exclude=[train], ks=(10, 20),
                         batch_size=batch_size)
    recall, ndcg, mrr = _brute_force(scores, positives, train, 10)
    assert m["recall@10"] == pytest.approx(recall, abs=1e-6)
    assert m["ndcg@10"] == pytest.approx(ndcg, abs=1e-6)
    assert m["mrr"] == pytest.approx(mrr, abs=1e-6)


def test_embedding_score_fn() -> None:
    u = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    i = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    assert embedding_score_fn(u, i)(torch.tensor([1])).tolist() == [[2.0, 0.0]]


def test_no_positives_gives_zeros() -> None:
    m = evaluate_ranking(_fixed(SCORES), np.zeros((2, 0), dtype=np.int64), 3, 5)
    assert m["users"] == 0 and m["ndcg@10"] == 0.0


def test_per_user_metric_by_hand_and_equal_to_the_mean() -> None:
    # The hand-computed case above at k=3: user 0 has its positive at rank 2 (1/log2(3)); user 1 has one of
    # its two positives at rank 1 of 3 (1 / (1 + 1/log2(3))).
    positives = np.array([[0, 1, 1], [2, 0, 4]])
    train = np.array([[0], [0]])
    rankings = top_k_rankings(_fixed(SCORES), np.array([0, 1]), 3, 5, 3, exclude=[train])
    users, values = per_user_metric(rankings, positives, "ndcg@3")
    assert users.tolist() == [0, 1]
    assert values == pytest.approx([1 / math.log2(3), 1 / (1 + 1 / math.log2(3))])
    m = evaluate_ranking(_fixed(SCORES), positives, 3, 5, exclude=[train], ks=(3,))
    assert values.mean() == pytest.approx(m["ndcg@3"])


def test_per_user_metrics_mean_match_evaluate_ranking_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    users, products = 40, 30
    table = torch.from_numpy(rng.random((users, products)).astype(np.float32))
    positives = np.stack([rng.integers(0, users, 90), rng.integers(0, products, 90)])
    positives = np.unique(positives, axis=1)
    known = np.stack([rng.integers(0, users, 60), rng.integers(0, products, 60)])
    # Held-out items are never known items in a split (top_k_rankings would exclude them: evaluate_ranking keeps them).
    known = known[:, ~np.isin(known[0] * products + known[1], positives[0] * products + positives[1])]
    candidates = rng.random(products) > 0.2
    score = embedding_score_fn(table, torch.eye(products))
    rankings = top_k_rankings(score, np.arange(users), users, products, 10, exclude=[known], candidates=candidates)
    m = evaluate_ranking(score, positives, users, products, exclude=[known], candidates=candidates, ks=(5, 10))
    for metric in ("ndcg@10", "recall@10", "ndcg@5", "recall@5"):
        assert per_user_metric(rankings, positives, metric)[1].mean() == pytest.approx(m[metric], abs=1e-6)
    with pytest.raises(ValueError, match="cannot compute ndcg@20"):
        per_user_metric(rankings, positives, "ndcg@20")
    with pytest.raises(ValueError, match="unknown per-user metric"):
        per_user_metric(rankings, positives, "mrr")


def test_a_grid_gives_each_scorer_what_evaluate_ranking_gives_it() -> None:
    # Three scorers from one base and one channel (as the calibration grids build them), batched unevenly.
    rng = np.random.default_rng(1)
    n_users, n_items = 25, 40
    base, channel = rng.random((n_users, n_items)), rng.random((n_users, n_items))
    positives = np.unique(np.stack([rng.integers(0, n_users, 50), rng.integers(0, n_items, 50)]), axis=1)
    train = np.stack([rng.integers(0, n_users, 150), rng.integers(0, n_items, 150)])
    candidates = rng.random(n_items) > 0.1
    weights = (0.0, 0.5, 2.0)

    def grid(users: torch.Tensor):  # type: ignore[no-untyped-def]
        for w in weights:
            yield w, torch.from_numpy(base + w * channel).float()[users]

    together = evaluate_ranking_grid(grid, positives, n_users, n_items, exclude=[train], candidates=candidates,
                                     batch_size=7)
    assert list(together) == list(weights)
    for w in weights:
        alone = evaluate_ranking(_fixed((base + w * channel).tolist()), positives, n_users, n_items,
                                 exclude=[train], candidates=candidates, batch_size=7)
        assert together[w] == pytest.approx(alone, abs=1e-6)
    assert together[0.0] != together[2.0]  # the scorers differ, so the check above compares something


def test_ndcg_only_gives_the_same_ndcg_and_nothing_else() -> None:
    rng = np.random.default_rng(2)
    n_users, n_items = 30, 50
    scores = rng.random((n_users, n_items)).tolist()
    positives = np.unique(np.stack([rng.integers(0, n_users, 60), rng.integers(0, n_items, 60)]), axis=1)
    train = np.stack([rng.integers(0, n_users, 200), rng.integers(0, n_items, 200)])
    full = evaluate_ranking(_fixed(scores), positives, n_users, n_items, exclude=[train], batch_size=8)
    light = evaluate_ranking(_fixed(scores), positives, n_users, n_items, exclude=[train], batch_size=8,
                             ndcg_only=True)
    assert light == {"ndcg@10": full["ndcg@10"], "ndcg@20": full["ndcg@20"], "users": full["users"]}
    assert 0 < light["ndcg@10"] < 1


def test_a_grid_with_no_positives_gives_every_key_zeros() -> None:
    def grid(users: torch.Tensor):  # type: ignore[no-untyped-def]
        for key in ("a", "b"):
            yield key, torch.zeros(len(users), 5)

    out = evaluate_ranking_grid(grid, np.zeros((2, 0), dtype=np.int64), 3, 5)
    assert set(out) == {"a", "b"} and all(m["ndcg@10"] == 0.0 and m["users"] == 0 for m in out.values())
