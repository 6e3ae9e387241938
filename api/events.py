"""Feedback events: validated, written to the graph, and kept per user in memory for the next answers.

Event types map to the schema's interaction relationships. The schema has no cart relationship, so a
``cart`` event is stored as ``VIEWED`` (adding to a cart implies at least a view; storing it as ``PURCHASED``
would teach the next training run purchases that abandoned carts never became). In memory it keeps its own
type and weighs between a view and a purchase when recent items are pooled into the user's vector.

The in-memory buffer is what makes an event count at once, without retraining: the last
``settings.recent_items`` events per user, for at most ``max_users`` users (least recently active dropped).
It is per process: several API replicas each see their own users' events until the next bundle.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Literal

from kg.schema import NodeLabel, RelType
from kg.store import GraphStore

EventType = Literal["view", "cart", "purchase"]
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
    """Per-user bounded buffers of recent events (thread-safe)."""

    def __init__(self, per_user: int = 20, max_users: int = 100_000) -> None:
        self.per_user = per_user
        self.max_users = max_users
        self._users: OrderedDict[str, deque[RecentEvent]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, user_id: str, event: RecentEvent) -> None:
        with self._lock:
            buf = self._users.get(user_id)
            if buf is None:
                buf = self._users[user_id] = deque(maxlen=self.per_user)
            self._users.move_to_end(user_id)
            buf.append(event)
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)

    def get(self, user_id: str) -> list[RecentEvent]:
        """The user's recent events, oldest first (empty for users without any)."""
        with self._lock:
            buf = self._users.get(user_id)
            return list(buf) if buf else []

    def __contains__(self, user_id: object) -> bool:
        with self._lock:
            return user_id in self._users

    def __len__(self) -> int:
        with self._lock:
            return len(self._users)


def store_event(store: GraphStore, user_id: str, product_id: str, event_type: str, ts: int | None) -> str:
    """Write one event to the graph: the user node (created if new) and its interaction edge.

    ``ts`` (epoch seconds, now when absent) is the time of the latest event of that type for the pair.
    Returns the relationship type written.
    """
    rel = EVENT_RELATIONSHIP[event_type]
    store.upsert_nodes(NodeLabel.USER, [{"id": user_id}])
    store.upsert_relationships(rel, [{"src": user_id, "dst": product_id, "ts": int(ts if ts is not None
                                                                                    else time.time())}])
    return rel.value
