"""The transition channel and lookup: the matrix, its factors and the lookup's scores (hand-computed), and how
the sequence model serves them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn.data import INTERACTS
from gnn.metrics import embedding_score_fn
from gnn.models.kg_sasrec import KGSASRec
from gnn.transitions import (
    TransitionCache,
    TransitionLookup,
    imputed_columns,
    lookup_matrix,
    padded,
    transition_factors,
    transition_matrix,
    transition_profile,
)

# 0 -> 1 -> 2; 0 -> 2; 1 -> 1 (a repeat: left out) -> 0; product 3: in no pair; product 4: nobody.
HISTORIES = [np.array([0, 1, 2]), np.array([0, 2]), np.array([1, 1, 0]), np.array([3]),
             np.array([], dtype=np.int64)]


def test_the_transition_matrix_is_the_share_of_what_followed_each_product() -> None:
    got = transition_matrix(HISTORIES, 5).toarray()
    expected = np.zeros((5, 5))
    expected[0, 1] = expected[0, 2] = 0.5  # 0 was followed by 1 once and by 2 once
    expected[1, 2] = expected[1, 0] = 0.5  # 1 by 2 and by 0 (1 -> 1 is not a transition)
    np.testing.assert_allclose(got, expected)
    assert not transition_matrix([np.array([2])], 5).nnz


def test_a_wider_window_counts_what_came_soon_after_at_halving_weights() -> None:
    got = transition_matrix(HISTORIES, 5, window=2).toarray()
    expected = np.zeros((5, 5))
    # 0: followed by 1 (1) and by 2 (1, then 0.5 two steps after it in [0, 1, 2]): 1 / 2.5 and 1.5 / 2.5
    expected[0, 1], expected[0, 2] = 0.4, 0.6
    # 1: by 2 (1) and by 0 (1, then 0.5 two steps after the first 1 in [1, 1, 0])
    expected[1, 2], expected[1, 0] = 0.4, 0.6
    np.testing.assert_allclose(got, expected)
    one_step = transition_matrix(HISTORIES, 5).toarray()
    np.testing.assert_allclose(transition_matrix(HISTORIES, 5, window=1).toarray(), one_step)


def test_a_row_power_below_one_lets_a_product_followed_more_often_weigh_more() -> None:
    histories = [np.array([0, 1]), np.array([0, 1]), np.array([0, 1]), np.array([0, 2]), np.array([3, 2])]
    got = transition_matrix(histories, 4, power=0.5).toarray()
    expected = np.zeros((4, 4))
    expected[0, 1], expected[0, 2] = 3 / 2, 1 / 2  # 0 was followed four times: counts over sqrt(4)
    expected[3, 2] = 1.0  # 3 once: 1 / sqrt(1)
    np.testing.assert_allclose(got, expected)
    # A user who had 0 then 3 gets more from 0's row (seen four times) than a distribution would give it.
    distribution = transition_matrix(histories, 4)
    assert distribution[0].sum() == pytest.approx(distribution[3].sum()) == pytest.approx(1.0)
    assert got[0].sum() == pytest.approx(2.0) and got[3].sum() == pytest.approx(1.0)
    # The order within each row is the same.
    np.testing.assert_array_equal(np.argsort(-got, axis=1), np.argsort(-distribution.toarray(), axis=1))


def test_the_lookup_scores_the_window_and_explains_only_the_next_step() -> None:
    histories = [np.array([0, 1, 2])]  # 2 comes two steps after 0, never right after it
    windowed = _model(rank=0, lookup_last=2, lookup_max_window=2)
    windowed.lookup_weight.fill_(1.0)
    windowed.lookup_window.fill_(2.0)  # as validation may choose it (gnn.content.choose_transition_lookup)
    lookup = windowed.transition_lookup(histories, 5)
    assert lookup is not None and lookup.matrix[0, 2] > 0  # scored: 2 soon after 0
    assert not lookup.was_followed_by(0, 2) and lookup.was_followed_by(0, 1)  # cited: only what came right after
    one_step = _model(rank=0, lookup_last=2)
    one_step.lookup_weight.fill_(1.0)
    step_lookup = one_step.transition_lookup(histories, 5)
    assert step_lookup is not None and step_lookup.matrix[0, 2] == 0 and step_lookup.observed is None


def test_the_factors_give_back_the_matrix_at_full_rank() -> None:
    source, target = transition_factors(HISTORIES, 5, rank=6)
    assert source.shape == target.shape == (5, 6)  # always `rank` wide: zero columns past the matrix's size
    assert not source[:, 4:].any() and not target[:, 4:].any()
    np.testing.assert_allclose((source @ target.T).numpy(), transition_matrix(HISTORIES, 5).toarray(), atol=1e-5)
    assert not source[2].any() and not source[3].any()  # nothing followed 2 or 3


def test_the_cache_computes_once_per_set_of_histories_and_pads_new_products(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gnn.transitions as transitions

    calls = []
    real = transitions.transition_factors
    monkeypatch.setattr(transitions, "transition_factors", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache = TransitionCache(rank=3)
    source, target = cache.rows(HISTORIES, 5)
    grown_source, grown_target = cache.rows([h.copy() for h in HISTORIES], 7)  # two products added after
    assert len(calls) == 1
    assert grown_source.shape == (7, 3) and torch.equal(grown_source[:5], source) and not grown_source[5:].any()
    assert torch.equal(grown_target[:5], target)
    cache.rows(HISTORIES[:3], 5)
    assert len(calls) == 2  # other histories: computed again


def test_the_profile_sums_the_rows_of_the_newest_items_decayed() -> None:
    matrix = transition_matrix(HISTORIES, 5)
    histories = [np.array([2, 0, 1]), np.array([1]), np.array([], dtype=np.int64), np.array([0, 7])]
    got = transition_profile(matrix, histories, last=2, decay=0.5).toarray()
    expected = np.zeros((4, 5))
    expected[0] = 0.5 * matrix[0].toarray() + 1.0 * matrix[1].toarray()  # 2 is past the newest two: not read
    expected[1] = matrix[1].toarray()
    # 7, the newest: no row in a 5-product matrix (a product added after), so nothing; 0 still weighs 0.5.
    expected[3] = 0.5 * matrix[0].toarray()
    np.testing.assert_allclose(got, expected)


def test_the_lookup_gives_each_users_likeliest_next_product_the_weight() -> None:
    lookup = TransitionLookup(transition_matrix(HISTORIES, 5), weight=2.0, decay=0.5, last=2)
    histories = [np.array([2, 0, 1]), np.array([3]), np.array([], dtype=np.int64)]
    scores = lookup.scores(histories)
    # User 0 reads 0 then 1: 0.5 * T[0] + T[1], with T[0] = (0, .5, .5, 0, 0) and T[1] = (.5, 0, .5, 0, 0);
    # its largest entry, 0.75 (product 2), is scaled to the weight.
    expected = np.array([0.5, 0.25, 0.75, 0.0, 0.0]) / 0.75 * 2.0
    np.testing.assert_allclose(scores[0].numpy(), expected, rtol=1e-6)
    assert not scores[1].any() and not scores[2].any()  # nothing followed 3; no history
    products, values = lookup.sparse_scores(histories[0])
    np.testing.assert_allclose(values, scores[0].numpy()[products])
    assert set(products.tolist()) == {0, 1, 2}


def test_a_requests_sparse_scores_are_the_batch_scores_nonzero_entries() -> None:
    rng = np.random.default_rng(0)
    histories = [rng.integers(0, 40, size=rng.integers(0, 9)) for _ in range(200)]
    lookup = TransitionLookup(transition_matrix(histories, 40), weight=1.7, decay=0.6, last=3)
    histories = [*histories, np.array([45, 3])]  # 45: past the matrix (a product added later)
    dense = lookup.scores(histories).numpy()
    for b, history in enumerate(histories):
        products, values = lookup.sparse_scores(history)
        expected = np.flatnonzero(dense[b])
        np.testing.assert_array_equal(products, expected)
        np.testing.assert_allclose(values, dense[b, expected], rtol=1e-6)


def test_padded_matrices_give_new_products_empty_rows_and_columns() -> None:
    matrix = transition_matrix(HISTORIES, 5)
    grown = padded(matrix, 7)
    assert grown.shape == (7, 7) and not grown[5:].nnz and not grown[:, 5:].nnz
    np.testing.assert_array_equal(grown[:5, :5].toarray(), matrix.toarray())
    assert padded(matrix, 3).shape == (3, 3)


def _model(rank: int, lookup_last: int = 0, lookup_max_window: int = 1) -> KGSASRec:
    return KGSASRec({"product": 5, "user": 3}, text_dim=3, hidden_channels=4, max_len=3, num_heads=1,
                    transition_rank=rank, lookup_last=lookup_last, lookup_max_window=lookup_max_window).eval()


def _graph() -> HeteroData:
    data = HeteroData()
    data["product"].num_nodes = 5
    data["product"].x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    data["user"].num_nodes = 3
    data[INTERACTS].edge_index = torch.tensor([[0, 0, 1, 2], [0, 1, 2, 0]])
    return data


def test_the_transition_channel_adds_nu_times_the_from_to_cosine() -> None:
    model, data = _model(rank=3), _graph()
    with torch.no_grad():
        model.content_weight.fill_(0.3)
        users_off, items_off = model.embed_histories(data, HISTORIES)
        model.transition_weight.fill_(0.8)
        model.transition_decay.fill_(0.5)
        users_on, items_on = model.embed_histories(data, HISTORIES)
    assert items_on.size(1) == items_off.size(1) + 2 * 3 == 4 + 3 + 6
    assert model.scored_width() == 4 + 3 + 3
    assert not users_on[:, -3:].any()  # the from rows are read on the user side only
    source, target = transition_factors(HISTORIES, 5, rank=3)
    cosine = model.history_text(source, HISTORIES, decay=0.5) @ torch.nn.functional.normalize(target, dim=1).T
    torch.testing.assert_close(users_on @ items_on.T, users_off @ items_off.T + 0.8 * cosine)


def test_products_embedded_without_histories_have_no_transition_rows() -> None:
    """A product added after training (embedded inductively, no history known) has nothing known to follow it."""
    model, data = _model(rank=3), _graph()
    model.content_weight.fill_(0.3)
    model.transition_weight.fill_(0.8)
    with torch.no_grad():
        served = model.served_item_vectors(data)
    assert served.size(1) == 4 + 3 + 6 and not served[:, -6:].any()


def test_a_model_without_transition_rank_never_serves_the_channel() -> None:
    model, data = _model(rank=0), _graph()
    model.transition_weight.fill_(1.0)
    assert not model.has_transition_channel and model.channel_widths()[4] == 0
    assert model.served_item_vectors(data, histories=HISTORIES).size(1) == 4


def test_the_models_lookup_is_off_until_a_weight_is_chosen_and_then_adds_exactly_its_scores() -> None:
    from gnn.evaluation import history_boost

    model = _model(rank=0, lookup_last=2)
    assert model.transition_lookup(HISTORIES, 5) is None and history_boost(model, HISTORIES, 5) is None
    model.lookup_weight.fill_(1.5)
    model.lookup_decay.fill_(0.5)
    lookup = model.transition_lookup(HISTORIES, 6)  # one product more than the histories name
    assert lookup is not None and lookup.matrix.shape == (6, 6) and (lookup.weight, lookup.decay) == (1.5, 0.5)
    boost = history_boost(model, HISTORIES, 6)
    assert boost is not None
    users, items = torch.randn(5, 4), torch.randn(6, 4)
    score = embedding_score_fn(users, items, boost)
    picked = torch.tensor([2, 0])
    expected = users[picked] @ items.T + TransitionLookup(transition_matrix(HISTORIES, 6), 1.5, 0.5, 2).scores(
        [HISTORIES[2], HISTORIES[0]])
    torch.testing.assert_close(score(picked), expected)
    assert not _model(rank=0, lookup_last=0).has_transition_lookup


# Text: 3 reads as 2; 4 is halfway between 0 and 1.
TEXT = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 2], [1, 1, 0]], dtype=np.float32)


def test_a_product_nothing_followed_gets_its_text_neighbours_columns() -> None:
    """Columns 3 and 4 are empty (nothing was ever followed by them): 3 gets column 2 (its only neighbour with a
    positive cosine), 4 the mean of columns 0 and 1 (equal cosines); the filled columns get nothing."""
    matrix = transition_matrix(HISTORIES, 5)
    got = imputed_columns(matrix, TEXT, neighbours=2).toarray()
    expected = np.zeros((5, 5))
    expected[:, 3] = [0.5, 0.5, 0, 0, 0]  # column 2: 0 -> 2 (1/2), 1 -> 2 (1/2)
    expected[:, 4] = [0.25, 0.25, 0, 0, 0]  # half of column 0 (1 -> 0: 1/2) and of column 1 (0 -> 1: 1/2)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match="text has 4 rows for a 5-product"):
        imputed_columns(matrix, TEXT[:4])


def test_the_lookup_matrix_adds_the_imputed_columns_times_the_gain_or_nothing() -> None:
    matrix = transition_matrix(HISTORIES, 5)
    assert lookup_matrix(matrix, None, 2.0) is matrix and lookup_matrix(matrix, TEXT, 0.0) is matrix
    assert lookup_matrix(matrix, TEXT[:3], 2.0) is matrix  # text for fewer products than the matrix: none lent
    np.testing.assert_allclose(lookup_matrix(matrix, torch.from_numpy(TEXT), 2.0).toarray(),
                               matrix.toarray() + 2.0 * imputed_columns(matrix, TEXT).toarray(), atol=1e-6)


def test_the_models_lookup_lends_new_products_columns_only_with_text_and_a_gain() -> None:
    model = _model(rank=0, lookup_last=2)
    model.lookup_weight.fill_(1.0)
    plain = model.transition_lookup(HISTORIES, 5, TEXT)
    assert plain is not None and not plain.matrix[:, 3:].nnz  # gain 0: as before the gain existed
    model.cold_lookup_gain.fill_(0.5)
    lent = model.transition_lookup(HISTORIES, 5, TEXT)
    assert lent is not None and model.transition_lookup(HISTORIES, 5) is not None
    np.testing.assert_allclose(lent.matrix.toarray(), lookup_matrix(transition_matrix(HISTORIES, 5), TEXT,
                                                                    0.5).toarray())
    # A user whose newest item is 1 now sees 4, which reads half like 0, and 0 once followed 1.
    assert float(lent.scores([np.array([1])])[0, 4]) > 0 == float(plain.scores([np.array([1])])[0, 4])
