"""gnn.metrics on exported top-K lists (top_k_rankings, rankings_score_fn, evaluate_rankings), by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnn.metrics import embedding_score_fn, evaluate_ranking, evaluate_rankings, top_k_rankings

# 3 users x 6 products.
SCORES = torch.tensor([
    [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    [0.6, 0.1, 0.5, 0.2, 0.4, 0.3],
])


def _score(users: torch.Tensor) -> torch.Tensor:
    return SCORES[users]


def test_top_k_rankings_excludes_known_items_and_non_candidates() -> None:
    train = np.array([[0, 1], [0, 5]])  # user 0 knows product 0, user 1 knows product 5
    candidates = np.array([True, True, True, True, False, True])  # product 4 is not rankable
    top = top_k_rankings(_score, np.array([0, 1]), 3, 6, 3, exclude=[train], candidates=candidates)
    assert top.tolist() == [[1, 2, 3], [3, 2, 1], [-1, -1, -1]]  # user 2 was not asked for


def test_top_k_rankings_pads_when_fewer_candidates_than_k() -> None:
    candidates = np.array([True, False, True, False, False, False])
    top = top_k_rankings(_score, np.array([2]), 3, 6, 4, candidates=candidates)
    assert top[2].tolist() == [0, 2, -1, -1]


def test_evaluate_rankings_hand_computed() -> None:
    # user 0 ranks 3, 1, 4 (positive 4 at rank 3); user 1 ranks 2, 5, 0 (positives 5 and 1: one hit at rank 2);
    # user 2 has a ranking but no positive: not evaluated.
    rankings = np.array([[3, 1, 4], [2, 5, 0], [0, 1, 2]])
    positives = np.array([[0, 1, 1], [4, 5, 1]])
    m = evaluate_rankings(rankings, positives, 6, ks=(1, 3))
    assert m["users"] == 2
    # recall@3: user 0: 1/1, user 1: 1/2 -> 0.75; recall@1: 0
    assert m["recall@3"] == pytest.approx(0.75)
    assert m["recall@1"] == pytest.approx(0.0)
    # ndcg@3: user 0: (1/log2(4)) / 1 = 0.5; user 1: (1/log2(3)) / (1 + 1/log2(3)) = 0.63093 / 1.63093
    expected = (0.5 + (1 / math.log2(3)) / (1 + 1 / math.log2(3))) / 2
    assert m["ndcg@3"] == pytest.approx(expected, abs=1e-6)
    # MRR@K: user 0 first hit at rank 3, user 1 at rank 2
    assert m["mrr"] == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_evaluate_rankings_agrees_with_full_scores() -> None:
    """Exporting a model's top-K and evaluating the lists gives its full-ranking recall and NDCG."""
    gen = torch.Generator().manual_seed(0)
    users, items = torch.randn(40, 8, generator=gen), torch.randn(30, 8, generator=gen)
    score = embedding_score_fn(users, items)
    rng = np.random.default_rng(0)
    train = np.stack([np.repeat(np.arange(40), 3), rng.integers(0, 30, 120)])
    test = np.stack([np.arange(40), rng.integers(0, 30, 40)])
    test = test[:, ~np.isin(test[0] * 100 + test[1], train[0] * 100 + train[1])]
    direct = evaluate_ranking(score, test, 40, 30, exclude=[train], ks=(5, 10))
    top = top_k_rankings(score, np.unique(test[0]), 40, 30, 10, exclude=[train])
    via_lists = evaluate_rankings(top, test, 30, exclude=[train], ks=(5, 10))
    for key in ("recall@5", "recall@10", "ndcg@5", "ndcg@10", "hit@5"):
        assert via_lists[key] == pytest.approx(direct[key]), key


def test_evaluate_rankings_refuses_k_beyond_the_lists() -> None:
    with pytest.raises(ValueError, match="cannot evaluate at k=20"):
        evaluate_rankings(np.zeros((2, 10), dtype=np.int64), np.array([[0], [1]]), 5)
    with pytest.raises(ValueError, match="only 5"):
        evaluate_rankings(np.full((2, 20), 7, dtype=np.int64), np.array([[0], [1]]), 5)
