"""Recent events against a long history: the weight is chosen on validation, and three events do not erase six
purchases (issue 19: they had replaced all ten recommendations).

A synthetic world of two unrelated areas (``a*`` and ``b*`` products, each its own category). Every user has a
home area. Half stay in it; a quarter drift to the other area for good (their last train items, valid and test
items are there); a quarter look at the other area for three items and come back home. Recent events are thus
informative but not everything, which is what validation has to weigh. Each model is trained on it for real, its
bundle written and served by the API's own recommendation code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.events import RecentEvent
from api.serving.catalog import catalog_from_snapshot
from api.serving.index import ServingIndex, build_index
from api.serving.recommend import recommend
from gnn.bundle import load_bundle
from gnn.config import TrainConfig
from gnn.data import ITEM_RELATIONS, GraphSnapshot, split_snapshot
from gnn.pipeline import save_result
from gnn.prepared import prepare_split
from gnn.recent import MIN_HISTORY, WEIGHT_GRID, blend, choose_recent_weight
from gnn.train import train_model

AREA_SIZE = 30
USERS = 160
#: The stated share: at least this many of the top 10 stay in the long history's area after three events.
MIN_HOME_SHARE = 5


def _draw(rng: np.random.Generator, area: str, n: int, exclude: set[str]) -> list[str]:
    """``n`` distinct products of ``area``, popular ones (low numbers) more often."""
    weights = 1.0 / np.arange(1, AREA_SIZE + 1)
    out: list[str] = []
    while len(out) < n:
        pid = f"{area}{int(rng.choice(AREA_SIZE, p=weights / weights.sum())):02d}"
        if pid not in out and pid not in exclude:
            out.append(pid)
    return out


def _sequences(seed: int = 0) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    out = {}
    for u in range(USERS):
        home, other = ("a", "b") if u % 2 == 0 else ("b", "a")
        kind = ("stay", "drift", "stay", "look")[(u // 2) % 4]  # each kind in both home areas
        if kind == "stay":
            seq = _draw(rng, home, 9, set())
        elif kind == "drift":
            seq = _draw(rng, home, 6, set()) + _draw(rng, other, 5, set())
        else:
            first = _draw(rng, home, 8, set())
            seq = first[:6] + _draw(rng, other, 3, set()) + first[6:]
        out[f"u{u:03d}"] = seq
    return out


def _snapshot(sequences: dict[str, list[str]]) -> GraphSnapshot:
    products = [f"{a}{i:02d}" for a in "ab" for i in range(AREA_SIZE)]
    pidx = {p: i for i, p in enumerate(products)}
    users = sorted(sequences)
    rows = [(u, pidx[p], t) for u, uid in enumerate(users) for t, p in enumerate(sequences[uid])]
    arr = np.array(rows, dtype=np.int64)
    n = len(rows)
    edges = {name: np.zeros((2, 0), dtype=np.int64) for name in ITEM_RELATIONS}
    edges["in_category"] = np.array([[i for i in range(len(products))],
                                     [0 if p.startswith("a") else 1 for p in products]], dtype=np.int64)
    snap = GraphSnapshot(
        ids={"user": users, "product": products, "brand": [], "category": ["area-a", "area-b"], "entity": []},
        names={"brand": [], "category": ["Area A", "Area B"], "entity": []},
        titles=[f"product {p}" for p in products], descriptions=[""] * len(products),
        text_hashes=[p for p in products], active=np.ones(len(products), dtype=bool),
        inter_user=arr[:, 0], inter_product=arr[:, 1], inter_ts=arr[:, 2], inter_seq=np.zeros(n, dtype=np.int64),
        inter_count=np.ones(n, dtype=np.int64), inter_kind=np.zeros(n, dtype=np.int8), item_edges=edges)
    snap.snapshot_id = snap.compute_id()
    return snap


@dataclasses.dataclass
class World:
    sequences: dict[str, list[str]]
    index: ServingIndex
    metrics: dict[str, Any]


def _features(n: int) -> np.ndarray:
    x = np.random.default_rng(3).normal(size=(n, 16)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module", params=["lightgcn", "kg_sasrec"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sequences = _sequences()
    snap = _snapshot(sequences)
    # kg_sasrec as it was tuned for this world (width 16, cosine scores): the defaults are sized for real catalogs.
    config = TrainConfig(model=request.param, hidden_channels=16, seq_hidden_channels=16, seq_heads=1,
                         seq_temperature=0.07, seq_lr=2e-3, epochs=40, batch_size=128, patience=40, seq_batch_size=32,
                         seq_dropout=0.1, seq_max_len=20, num_threads=1, lr=0.01)
    prepared = prepare_split(snap, split_snapshot(snap), {"product": _features(snap.num_products)}, config)
    result = train_model(prepared, config, progress=False, evaluate=("test",))
    path = save_result(tmp_path_factory.mktemp("blend") / "artifacts", prepared, result, {})
    bundle = load_bundle(path)
    yield World(sequences, build_index(bundle, catalog_from_snapshot(snap, {}), text_encoder=None), bundle.metrics)


def _home_user(world: World) -> str:
    """A user who only ever bought in area a, with at least six purchases."""
    return next(u for u, seq in sorted(world.sequences.items())
                if len(seq) >= MIN_HISTORY and all(p.startswith("a") for p in seq))


def _top10(index: ServingIndex, user: str, events: list[str], k: int = 10) -> list[str]:
    recent = [RecentEvent(p, "purchase", float(t)) for t, p in enumerate(events)]
    rec = recommend(index, user, k, recent=recent)
    return [index.catalog.product_ids[h.index] for h in rec.hits]


def _first_rank(products: list[str], area: str) -> int:
    return next((rank for rank, p in enumerate(products) if p.startswith(area)), len(products))


def test_the_weight_is_chosen_on_validation_and_served(world: World) -> None:
    chosen = world.metrics["recent_blend"]
    assert set(chosen["valid_ndcg@10"]) == {f"{w:g}" for w in WEIGHT_GRID}
    assert chosen["valid_ndcg@10"][f"{chosen['weight']:g}"] == max(chosen["valid_ndcg@10"].values())
    assert chosen["users"] > USERS // 2
    assert world.index.recent_weight == chosen["weight"]
    # In this world the drifters make recent events worth something, the others make them not everything.
    assert 0 < chosen["weight"] < 1


def test_three_events_do_not_erase_a_long_history(world: World) -> None:
    user = _home_user(world)
    events = ["b05", "b06", "b07"]
    before = _top10(world.index, user, [])
    after = _top10(world.index, user, events)
    assert sum(p.startswith("a") for p in before) >= 8  # the history's area, before anything happens
    home_after = sum(p.startswith("a") for p in after)
    assert home_after >= MIN_HOME_SHARE, after  # the long history still holds half the list
    # And the events count at once: the list changes and their area climbs (whether it reaches the top 10 at
    # the chosen weight depends on a near tie between two weights on validation).
    assert after != before
    assert _first_rank(_top10(world.index, user, events, 50), "b") < _first_rank(_top10(world.index, user, [], 50), "b")
    # The same three events with the events alone (weight 1) take over the list: the assertion above can fail.
    alone = _top10(dataclasses.replace(world.index, recent_weight=1.0), user, events)
    assert sum(p.startswith("a") for p in alone) < MIN_HOME_SHARE, alone


def test_blend_is_a_weighted_mean_of_unit_vectors() -> None:
    h, r = np.array([3.0, 0.0]), np.array([0.0, 0.5])
    assert np.allclose(blend(h, r, 0.25), [0.75, 0.25])
    assert np.allclose(blend(h, None, 0.25), [1.0, 0.0])


def test_no_weight_without_users_to_replay(tmp_path: Path) -> None:
    short = {f"u{u}": [f"a{u % AREA_SIZE:02d}", f"a{(u + 1) % AREA_SIZE:02d}", "a00"] for u in range(10)}
    snap = _snapshot(short)
    config = TrainConfig(model="popularity")
    prepared = prepare_split(snap, split_snapshot(snap), None, config)
    result = train_model(prepared, config, progress=False, evaluate=())
    assert choose_recent_weight(result.model, prepared) is None
