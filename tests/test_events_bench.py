"""bench/events.py's clean-up of a live store: only the users a benchmark run wrote go, on both backends."""

from __future__ import annotations

import sys

from kg.config import PROJECT_ROOT
from kg.schema import NodeLabel, RelType
from kg.store.base import GraphStore

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import events  # noqa: E402


def test_only_the_benchmark_users_and_their_events_are_deleted(store: GraphStore) -> None:
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "p1", "title": "Stapler"}, {"id": "p2", "title": "Pen"}])
    users = ["bench1700000000single-0", "bench1700000000single-1", "bench1700000001batch-0", "shopper-1", "u-bench"]
    store.upsert_nodes(NodeLabel.USER, [{"id": u} for u in users])
    store.upsert_relationships(RelType.VIEWED, [{"src": u, "dst": p} for u in users for p in ("p1", "p2")])

    assert events.remove_users_with_prefix(store, batch=2) == 3  # more users than one batch

    left = store.query("MATCH (u:User) RETURN u.id AS id ORDER BY id")
    assert [r["id"] for r in left] == ["shopper-1", "u-bench"]
    edges = store.query("MATCH (u:User)-[r]->(:Product) RETURN u.id AS id, count(r) AS n ORDER BY id")
    assert [(r["id"], r["n"]) for r in edges] == [("shopper-1", 2), ("u-bench", 2)]
    assert store.count_nodes()["Product"] == 2
    assert events.remove_users_with_prefix(store) == 0  # nothing left to delete: the loop ends
