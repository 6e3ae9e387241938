"""EASE (gnn.baselines.ease): the closed form against a per-column ridge regression solved by hand, the factors,
the embeddings and the product-count guard."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from gnn.baselines.ease import EASE, ItemRegressionScores, ease_weights, factor, interaction_matrix
from gnn.data import INTERACTS

#: 4 users x 3 products.
X = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.float32)


def _column_by_column(x: np.ndarray, l2: float) -> np.ndarray:
    """Each product regressed on the others (ridge, no intercept), one least-squares problem per column: the
    constraint diag(B) = 0 imposed by leaving the product out, not by the closed form's Lagrangian."""
    size = x.shape[1]
    out = np.zeros((size, size))
    for j in range(size):
        others = [i for i in range(size) if i != j]
        a = x[:, others].astype(np.float64)
        out[others, j] = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ x[:, j])
    return out


def test_closed_form_is_the_constrained_ridge_regression() -> None:
    weights = ease_weights(sp.csr_matrix(X), l2=0.5).numpy()
    np.testing.assert_allclose(weights, _column_by_column(X, 0.5), rtol=1e-4, atol=1e-5)
    assert np.all(np.diag(weights) == 0)


def test_interaction_matrix_counts_a_repeat_once() -> None:
    x = interaction_matrix(np.array([0, 0, 1]), np.array([2, 2, 0]), 2, 3)
    np.testing.assert_array_equal(x.toarray(), [[0, 0, 1], [1, 0, 0]])


def test_l2_must_be_positive() -> None:
    with pytest.raises(ValueError, match="l2 > 0"):
        ease_weights(sp.csr_matrix(X), l2=0.0)


def test_factors_exact_at_full_rank_and_best_below_it() -> None:
    weights = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32))
    w, v = factor(weights, rank=6)
    torch.testing.assert_close(w @ v.T, weights)
    w, v = factor(weights, rank=2)
    u, s, vt = np.linalg.svd(weights.numpy())
    best = (u[:, :2] * s[:2]) @ vt[:2]
    np.testing.assert_allclose((w @ v.T).numpy(), best, atol=1e-3)


def _graph(users: list[int], products: list[int], num_users: int, num_products: int) -> HeteroData:
    data = HeteroData()
    data["user"].num_nodes, data["product"].num_nodes = num_users, num_products
    data[INTERACTS].edge_index = torch.tensor([users, products])
    return data


def test_embeddings_score_as_the_regression() -> None:
    """Full rank: user . product = x_u B; a user with no interaction scores 0 everywhere."""
    users, products = np.nonzero(X)
    data = _graph(users.tolist(), products.tolist(), 5, 3)
    user_emb, product_emb = EASE(l2=0.5, rank=10).embed(data)
    expected = np.vstack([X, np.zeros((1, 3))]) @ _column_by_column(X, 0.5)
    np.testing.assert_allclose((user_emb @ product_emb.T).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert user_emb.shape == (5, 3)


def test_too_many_products_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="max_products"):
        EASE(max_products=2).embed(_graph([0], [1], 1, 3))


def test_each_graph_gets_its_own_solve_once() -> None:
    """A graph with more interactions (a test phase's) is solved on them; the same interactions again reuse the
    cached solve."""
    users, products = np.nonzero(X)
    model = EASE(l2=0.5, rank=10)
    first = model.fit(_graph(users.tolist(), products.tolist(), 4, 3))
    x_later = np.vstack([[1, 1, 1], X[1:]])  # user 0 gained product 2
    later_users, later_products = np.nonzero(x_later)
    user_emb, product_emb = model.embed(_graph(later_users.tolist(), later_products.tolist(), 4, 3))
    np.testing.assert_allclose((user_emb @ product_emb.T).numpy(), x_later @ _column_by_column(x_later, 0.5),
                               rtol=1e-4, atol=1e-5)
    again = model.fit(_graph(users.tolist(), products.tolist(), 4, 3))
    assert again[0] is first[0] and again[1] is first[1]  # the cached solve, not a new one


def test_exact_scores_are_x_b_in_half_precision_where_the_catalog_allows() -> None:
    """Ranked by x_u B itself (B kept in float16, sums in float32), however low the factors' rank; above
    exact_max_products, by the factors."""
    users, products = np.nonzero(X)
    data = _graph(users.tolist(), products.tolist(), 5, 3)
    model = EASE(l2=0.5, rank=1, exact_max_products=3)
    score = model.score_fn(data)
    assert score is not None
    expected = np.vstack([X, np.zeros((1, 3))]) @ _column_by_column(X, 0.5)
    got = score(torch.arange(5)).numpy()
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-4)
    user_emb, product_emb = model.embed(data)
    assert np.abs((user_emb @ product_emb.T).numpy() - expected).max() > 1e-2  # rank 1 is not exact: a real check
    one_row_at_a_time = ItemRegressionScores(score.x, score.weights, rows_per_chunk=1)
    np.testing.assert_array_equal(one_row_at_a_time(torch.tensor([3, 0])).numpy(), got[[3, 0]])
    assert set(model.serving_state(data)) == {"history_rows", "history_scores"}
    assert model.serving_state(data)["history_scores"].dtype == torch.float16
    factored = EASE(l2=0.5, rank=1, exact_max_products=2)
    assert factored.score_fn(data) is None and set(factored.serving_state(data)) == {"history_rows"}
