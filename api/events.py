"""Feedback events: validated, written to the graph, and kept per user in memory for the next answers.

Event types map to the schema's interaction relationships. The schema has no cart relationship, so a
``cart`` event is stored as ``VIEWED`` (adding to a cart implies at least a view; storing it as ``PURCHASED``
would teach the next training run purchases that abandoned carts never became). In memory it keeps its own
type and weighs between a view and a purchase when recent items are pooled into the user's vector.

An event is acknowledged once it is in the event log on disk (:mod:`api.eventlog`, group commit); the graph
writer (:mod:`api.event_writer`) writes it into the graph in batches, in the background, with
:func:`store_events`. While the graph cannot take events (a rebuild job holds the embedded graph, Neo4j is
down) they wait in the log: an acknowledged event is never lost.

The in-memory buffer is what makes an event count at once, without retraining: the last
``settings.recent_items`` events per user, for at most ``max_users`` users (least recently active dropped).
It is per process: several API replicas each see their own users' events until the next bundle.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from api.eventlog import LoggedEvent
from kg.schema import NodeLabel, RelType
from kg.store import GraphStore

EVENT_RELATIONSHIP: dict[str, RelType] = {"view": RelType.VIEWED, "cart": RelType.VIEWED,
                                          "purchase": RelType.PURCHASED}
#: How much a recent event weighs when the user's recent items are pooled.
EVENT_WEIGHT: dict[str, float] = {"view": 0.5, "cart": 0.75, "purchase": 1.0}


@dataclass(frozen=True)
class RecentEvent:
    product_id: str
    type: str
    ts: int


class RecentEvents:
    """Per-user bounded buffers of recent events (thread-safe).

    A user's buffer is kept as an exact tuple of ``(product_id, type, ts)`` tuples, not as a deque of
    :class:`RecentEvent` objects: CPython's garbage collector stops tracking an exact tuple of strings and
    numbers once it has survived a collection, so 100,000 users' buffers cost a full collection one dict to
    walk, where deques of dataclass instances were some 300,000 containers, and a full collection over them
    stalled every request of the process, events included. A new event copies at most ``per_user`` items.
    """

    def __init__(self, per_user: int = 20, max_users: int = 100_000) -> None:
        self.per_user = per_user
        self.max_users = max_users
        self._users: OrderedDict[str, tuple[tuple[str, str, int], ...]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, user_id: str, event: RecentEvent) -> None:
        item = (event.product_id, event.type, event.ts)
        with self._lock:
            buf = self._users.pop(user_id, ())
            self._users[user_id] = (*buf, item)[-self.per_user:]  # re-inserted: now the most recent user
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)

    def get(self, user_id: str) -> list[RecentEvent]:
        """The user's recent events, oldest first (empty for users without any)."""
        with self._lock:
            buf = self._users.get(user_id, ())
        return [RecentEvent(*item) for item in buf]

    def forget(self, user_ids: list[str]) -> int:
        """Drop these users' events (an erased user); returns how many users had some."""
        with self._lock:
            return sum(self._users.pop(u, None) is not None for u in user_ids)

    def users(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def __contains__(self, user_id: object) -> bool:
        with self._lock:
            return user_id in self._users

    def __len__(self) -> int:
        with self._lock:
            return len(self._users)


def store_events(store: GraphStore, events: Sequence[LoggedEvent]) -> int:
    """Write a batch of events to the graph, in log order, on one held connection: the user nodes (created if
    new), then one edge upsert per relationship type. Returns how many events named a product the graph does
    not hold (nothing is written for those).

    The edge's ``ts`` is that of the pair's last event of the type in log order, as if written one by one
    (within a batch only the last row per pair is sent: one ``MERGE`` per pair). Upserts: writing the same
    batch twice (a crash between the write and the checkpoint) leaves the graph as after once.
    """
    users = {event.user_id: None for event in events}
    edges: dict[RelType, dict[tuple[str, str], int]] = {}
    for event in events:
        edges.setdefault(EVENT_RELATIONSHIP[event.type], {})[(event.user_id, event.product_id)] = event.ts
    missing = 0
    with store.holding():
        store.upsert_nodes(NodeLabel.USER, [{"id": user} for user in users])
        for rel, pairs in edges.items():
            result = store.upsert_relationships(rel, [{"src": u, "dst": p, "ts": ts} for (u, p), ts in pairs.items()])
            missing += result.missing_endpoints
    return missing
