"""The co-interaction channel: the spectrum (hand-computed), and how the sequence model serves and chooses it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn.cointeraction import (
    SpectrumCache,
    cointeraction_matrix,
    cointeraction_spectrum,
    predicted_rows,
    text_to_rows_map,
)
from gnn.data import INTERACTS
from gnn.models.kg_sasrec import KGSASRec

# user 0 chose products 0 and 1; user 1 chose 0, 1 and 2 (and 1 twice); user 2 chose 2 and 3; product 4: nobody.
USERS = np.array([0, 0, 1, 1, 1, 1, 2, 2])
PRODUCTS = np.array([0, 1, 0, 1, 1, 2, 2, 3])


def test_the_cointeraction_matrix_is_the_normalised_count_of_shared_users() -> None:
    got = cointeraction_matrix(USERS, PRODUCTS, 5).toarray()
    counts = np.array([[0, 2, 1, 0, 0], [2, 0, 1, 0, 0], [1, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], float)
    degree = counts.sum(1)  # 3, 3, 3, 1, 0
    expected = counts / np.sqrt(np.outer(np.maximum(degree, 1), np.maximum(degree, 1)))
    np.testing.assert_allclose(got, expected)
    assert got[0, 1] == pytest.approx(2 / 3) and got[2, 3] == pytest.approx(1 / math.sqrt(3))


def test_the_spectrum_rows_give_back_the_positive_part_of_the_matrix() -> None:
    rows = cointeraction_spectrum(USERS, PRODUCTS, 5, rank=8).numpy()
    assert rows.shape == (5, 8)  # always `rank` wide: zero columns past the graph's size
    assert not rows[4].any() and not rows[:, 4:].any()
    values, vectors = np.linalg.eigh(cointeraction_matrix(USERS, PRODUCTS, 5).toarray())
    positive = (vectors * np.clip(values, 0, None)) @ vectors.T
    np.testing.assert_allclose(rows @ rows.T, positive, atol=1e-5)


def test_the_spectrum_cache_pads_products_appended_after_training_with_zero_rows() -> None:
    data = HeteroData()
    data["product"].num_nodes = 5
    data["user"].num_nodes = 3
    data[INTERACTS].edge_index = torch.from_numpy(np.stack([USERS, PRODUCTS]))
    cache = SpectrumCache(rank=4)
    rows = cache.rows(data)
    data["product"].num_nodes = 7  # two new products, the same interactions: the same rows, then zeros
    grown = cache.rows(data)
    assert grown.shape == (7, 4) and torch.equal(grown[:5], rows) and not grown[5:].any()


def test_the_text_map_recovers_rows_that_are_linear_in_the_text() -> None:
    generator = torch.Generator().manual_seed(1)
    text, weights = torch.randn(40, 3, generator=generator), torch.randn(3, 2, generator=generator)
    rows = text @ weights + 0.5
    fitted = torch.ones(40, dtype=torch.bool)
    fitted[:5] = False  # the first five are predicted from a map that never saw them
    mapping = text_to_rows_map(text, rows, fitted, ridge=1e-6)
    torch.testing.assert_close(predicted_rows(text[:5], mapping), rows[:5], atol=1e-4, rtol=1e-4)


def test_without_text_a_product_with_no_cointeraction_keeps_a_zero_row() -> None:
    data = HeteroData()
    data["product"].num_nodes = 5
    data[INTERACTS].edge_index = torch.from_numpy(np.stack([USERS, PRODUCTS]))
    assert not SpectrumCache(rank=4).rows(data)[4].any()


def _channel_model(rank: int) -> KGSASRec:
    return KGSASRec({"product": 5, "user": 3}, text_dim=3, hidden_channels=4, max_len=3, num_heads=1,
                    cointeraction_rank=rank).eval()


def _graph() -> HeteroData:
    data = HeteroData()
    data["product"].num_nodes = 5
    data["product"].x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    data["user"].num_nodes = 3
    data[INTERACTS].edge_index = torch.from_numpy(np.stack([USERS, PRODUCTS]))
    return data


def test_the_cointeraction_channel_adds_mu_times_the_spectrum_cosine() -> None:
    model, data = _channel_model(rank=4), _graph()
    histories = [np.array([0, 1]), np.array([2, 3, 0]), np.array([], dtype=np.int64)]
    with torch.no_grad():
        model.content_weight.fill_(0.3)
        users_off, items_off = model.embed_histories(data, histories)
        model.cointeraction_weight.fill_(0.6)
        model.cointeraction_decay.fill_(0.5)
        users_on, items_on = model.embed_histories(data, histories)
    assert items_on.size(1) == items_off.size(1) + 4 == 4 + 3 + 4
    rows = torch.nn.functional.normalize(model.spectrum.rows(data), dim=1)
    cosine = model.history_text(rows, histories, decay=0.5) @ rows.T
    torch.testing.assert_close(users_on @ items_on.T, users_off @ items_off.T + 0.6 * cosine)
    # Nobody chose product 4: its row is the one its text predicts from the products that have one.
    spectrum = model.spectrum.interaction_rows(data)
    assert not spectrum[4].any() and spectrum[:4].abs().sum(dim=1).gt(0).all()
    mapping = text_to_rows_map(data["product"].x, spectrum, spectrum.abs().sum(dim=1) > 0)
    torch.testing.assert_close(model.spectrum.rows(data)[4], predicted_rows(data["product"].x[4:], mapping)[0])


def test_a_model_without_channel_width_never_serves_one() -> None:
    model, data = _channel_model(rank=0), _graph()
    model.cointeraction_weight.fill_(1.0)
    assert not model.has_cointeraction_channel
    assert model.served_item_vectors(data).size(1) == 4


def test_user_vectors_refuse_a_table_that_does_not_match_the_channels() -> None:
    model, data = _channel_model(rank=4), _graph()
    model.cointeraction_weight.fill_(0.5)
    table = model.served_item_vectors(data).detach()
    with pytest.raises(ValueError, match="wide"):
        model.user_vectors(table[:, :-1], [np.array([0, 1])])


def test_history_vectors_do_not_depend_on_the_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _channel_model(rank=4)
    rows = torch.randn(5, 6, generator=torch.Generator().manual_seed(2))
    histories = [np.array([0, 1, 2, 3]), np.array([], dtype=np.int64), np.array([4]), np.array([3, 3, 1])]
    whole = model.history_text(rows, histories, decay=0.7)
    monkeypatch.setattr(KGSASRec, "HISTORY_BATCH", 1)
    torch.testing.assert_close(model.history_text(rows, histories, decay=0.7), whole)
    assert not whole[1].any()
