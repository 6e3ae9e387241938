"""The graph writer: a background thread that moves events from the event log into the graph, in batches.

No request waits for the graph: ``POST /events`` returns once its event is in the log (:mod:`api.eventlog`).
This thread reads the events after the log's checkpoint, writes them with one user upsert and one edge upsert
per relationship type (:func:`api.events.store_events`, on one held connection), then moves the checkpoint
past them, which lets the log delete what is written.

- A graph that cannot take the batch (a rebuild job holds the embedded file, Neo4j is down) leaves the events
  in the log; the writer tries again after a back-off (doubling up to ``max_backoff_s``).
- After a restart it resumes from the checkpoint. A batch written just before a crash and not checkpointed is
  written again: upserts of the same rows leave the graph as after once (nothing doubled).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from api.eventlog import EventLog, LoggedEvent
from api.events import store_events
from kg.errors import CartographError
from kg.privacy import forgotten_among, read_forgotten
from kg.store import GraphStore

log = logging.getLogger("cartograph.api")


class GraphWriter:
    """Writes the log's events into ``store``; :meth:`start` it, :meth:`stop` it (see the module docstring)."""

    def __init__(self, events: EventLog, store: GraphStore, *, batch: int = 5000, linger_s: float = 1.0,
                 min_backoff_s: float = 0.2, max_backoff_s: float = 5.0, forgotten: Path | None = None) -> None:
        self.events = events
        self.forgotten = forgotten  # the registry of erased users (kg.privacy): their events are never written
        self.store = store
        self.batch = batch
        self.linger_s = linger_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.last_error: str | None = None
        self.written = 0  # events written by this process (a batch written twice counts twice)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="event-graph-writer", daemon=True)
            self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop the thread, after one last attempt (bounded by ``drain_timeout``) at what the log holds: what
        is left stays in the log for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        deadline = time.monotonic() + drain_timeout
        while self.events.backlog and time.monotonic() < deadline:
            if not self.write_once():
                break

    def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            if not self.events.wait_beyond(self.events.checkpoint, timeout=0.5):
                continue
            if self.linger_s and self.events.backlog < self.batch:
                self._stop.wait(self.linger_s)  # gather more: one batch of many costs about one of few
            if self.write_once():
                backoff = self.min_backoff_s
            else:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    def write_once(self) -> bool:
        """Write one batch after the checkpoint and move the checkpoint; returns False when the graph (or the
        checkpoint file) refused it, which leaves everything in the log."""
        try:
            events = self.events.read(self.events.checkpoint, self.batch)
            if not events:
                return True
            missing = store_events(self.store, self._not_forgotten(events))
            self.events.commit_checkpoint(events[-1].seq)
        except (CartographError, OSError) as e:  # a rebuild holds the graph, Neo4j is down, disk trouble
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            if message != self.last_error:
                log.warning("events stay in the log, graph write failed (will retry): %s", message)
            self.last_error = message
            return False
        if missing:  # a product deleted from the graph after the event was accepted: nothing to attach it to
            log.warning("%d events named products no longer in the graph: not written", missing)
        self.last_error = None
        self.written += len(events)
        return True

    def _not_forgotten(self, events: list[LoggedEvent]) -> list[LoggedEvent]:
        erased = read_forgotten(self.forgotten) if self.forgotten is not None else frozenset()
        if not erased:
            return events
        gone = set(forgotten_among({e.user_id for e in events}, erased))
        return [e for e in events if e.user_id not in gone]

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every event on disk now is in the graph (tests, shutdown); returns whether it is."""
        target = self.events.durable_seq
        deadline = time.monotonic() + timeout
        while self.events.checkpoint < target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

