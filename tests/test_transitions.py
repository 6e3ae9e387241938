"""The transition channel: the matrix and its factors (hand-computed), and how the sequence model serves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn.data import INTERACTS
from gnn.models.kg_sasrec import KGSASRec
from gnn.transitions import TransitionCache, transition_factors, transition_matrix

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


def _model(rank: int) -> KGSASRec:
    return KGSASRec({"product": 5, "user": 3}, text_dim=3, hidden_channels=4, max_len=3, num_heads=1,
                    transition_rank=rank).eval()


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
