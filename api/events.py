"""Feedback events: validated, written to the graph, and kept per user in memory for the next answers.

Event types map to the schema's interaction relationships. The schema has no cart relationship, so a
``cart`` event is stored as ``VIEWED`` (adding to a cart implies at least a view; storing it as ``PURCHASED``
would teach the next training run purchases that abandoned carts never became). In memory it keeps its own
type and weighs between a view and a purchase when recent items are pooled into the user's vector.

When the graph cannot take an event (a rebuild job holds the embedded graph, Neo4j is down), the event is
appended to a spool file (``<home>/events/pending.jsonl``, flushed to disk) and written to the graph, in
order, before the next event that finds the graph available: an accepted event is never lost.

The in-memory buffer is what makes an event count at once, without retraining: the last
``settings.recent_items`` events per user, for at most ``max_users`` users (least recently active dropped).
It is per process: several API replicas each see their own users' events until the next bundle.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class StoredEvent:
    """One event as the graph gets it (``ts`` resolved)."""

    user_id: str
    product_id: str
    type: str
    ts: int


class EventSpool:
    """Events accepted while the graph was unavailable: a JSON-lines file, written to the graph in order by
    :meth:`drain` before newer events. Thread-safe within the process; one API process per spool file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """Held by every write of the spool file; erasing a user (api/privacy.py) holds it while it rewrites it."""
        return self._lock

    def append(self, event: StoredEvent) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(event)) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        if not self.path.is_file():
            return 0
        with self.path.open(encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())

    def drain(self, store: GraphStore) -> int:
        """Write the spooled events to the graph, oldest first; returns how many. Stops at the first failure
        (the StoreError propagates) and keeps the events not yet written, so none is lost or doubled:
        events are upserts, so one written just before a crash and again after is written once."""
        with self._lock:
            if not self.path.is_file():
                return 0
            lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
            done = 0
            try:
                for line in lines:
                    event = StoredEvent(**json.loads(line))
                    store_event(store, event.user_id, event.product_id, event.type, event.ts)
                    done += 1
            finally:
                self._rewrite(lines[done:])
            return done

    def _rewrite(self, lines: list[str]) -> None:
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, self.path)
