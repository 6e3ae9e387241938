"""The service's state: the current serving index (swapped atomically on reload), the store, the event buffer.

Requests read :attr:`ServiceState.index` once, through the ``IndexDep`` dependency, and use that object to
the end; a reload builds a complete new index in a background thread and then replaces the reference in one
assignment (atomic under the GIL). In-flight requests finish on the index they started with, new ones get the
new one, and nothing is ever half-built from a request's point of view. A failed reload leaves the old index
serving and is reported by ``GET /admin/reload`` and the ``cartograph_reloads_total{outcome="failed"}`` metric.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from api.event_writer import GraphWriter
from api.eventlog import EventLog
from api.events import RecentEvents
from api.feedback import FEEDBACK_FILE, FeedbackLog
from api.metrics import ApiMetrics
from api.privacy import hide_forgotten
from api.serving.index import ServingIndex, load_index, newest_bundle_version
from api.serving.query_encoder import QueryEncoder
from kg.config import Settings
from kg.errors import CartographError
from kg.privacy import forgotten_among, read_forgotten, registry_path
from kg.store import GraphStore

log = logging.getLogger("cartograph.api")
IndexLoader = Callable[[Settings, GraphStore | None], ServingIndex]


def default_loader(settings: Settings, store: GraphStore | None) -> ServingIndex:
    return load_index(settings, store)


def freeze_heap() -> None:
    """Collect what is garbage now, then put every object still alive (the index, the text model, the
    libraries) out of the cyclic garbage collector's sight (``gc.freeze``): called once an index serves.

    Why: the served process tracks about 600,000 objects, nearly all of them long-lived; a full (generation 2)
    collection, which request churn triggers every few seconds, walked all of them holding the GIL for 230 to
    670 ms, and every request of the process waited (the p99 of POST /events). Frozen, they are skipped. A
    reload pays one full collection here, in its own thread (the previous index, unfrozen, is freed)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ServiceState:
    """Everything the routes share, built by the app's lifespan at startup."""

    def __init__(self, settings: Settings, store: GraphStore | None, metrics: ApiMetrics,
                 encoder: QueryEncoder | None, loader: IndexLoader = default_loader) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.encoder = encoder
        self.loader = loader
        self.recent = RecentEvents(settings.recent_items, settings.recent_max_users)
        metrics.recent_users.set_function(lambda: len(self.recent))
        self._registry = registry_path(settings)
        self._registry_stamp: int | None = None
        self.feedback = FeedbackLog(settings.home / FEEDBACK_FILE)
        self.events = EventLog(settings.event_log_dir, segment_bytes=settings.event_segment_mb << 20,
                               commit_max=settings.event_commit_max,
                               commit_window_s=settings.event_commit_window_ms / 1000)
        self.writer: GraphWriter | None = None
        # Graph-bound requests (explanations) in flight at once (api.limits).
        self.graph_slots = threading.BoundedSemaphore(settings.graph_concurrency)
        self.index: ServingIndex | None = None
        self.index_error: str | None = None
        self.started = time.time()
        self._reload_lock = threading.Lock()
        self._reload_thread: threading.Thread | None = None
        self.reload_status: dict[str, Any] = {"state": "idle"}
        self._seen_target: str | None = None  # the current pointer's target last acted on (watcher)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- index ------------------------------------------------------------------------------------------
    def _swap(self, index: ServingIndex) -> None:
        hide_forgotten(index, read_forgotten(self._registry))  # before it serves: an old bundle knows them
        self.index = index  # the one atomic step of a reload
        self.index_error = None
        self.metrics.set_bundle(index.version, index.model, index.num_products)

    def load_initial(self) -> None:
        """Load the current bundle; on failure the service starts unready (``/ready`` says why)."""
        self._seen_target = self._current_target()
        try:
            self._swap(self.loader(self.settings, self.store))
        except (FileNotFoundError, ValueError, OSError, CartographError) as e:
            self.index_error = f"no bundle loaded: {e}"
            log.warning("%s", self.index_error)
        freeze_heap()

    def start_reload(self) -> dict[str, Any]:
        """Build the newest bundle's index in the background; returns the status (``state: running``).

        Raises :class:`RuntimeError` when a reload is already running.
        """
        with self._reload_lock:
            if self._reload_thread is not None and self._reload_thread.is_alive():
                raise RuntimeError("a reload is already running")
            try:
                target = newest_bundle_version(self.settings)
            except (FileNotFoundError, OSError) as e:
                target = f"unknown ({e})"
            self.reload_status = {"state": "running", "target": target, "started": time.time(),
                                  "previous": self.index.version if self.index else None}
            self._reload_thread = threading.Thread(target=self._reload, name="bundle-reload", daemon=True)
            self._reload_thread.start()
            return dict(self.reload_status)

    def _reload(self) -> None:
        start = time.perf_counter()
        try:
            index = self.loader(self.settings, self.store)
        except Exception as e:  # any failure must leave the old index serving, and be reported
            log.exception("reload failed; still serving %s", self.index.version if self.index else "nothing")
            self.metrics.reloads.labels("failed").inc()
            self.reload_status = {**self.reload_status, "state": "failed", "error": f"{type(e).__name__}: {e}",
                                  "seconds": round(time.perf_counter() - start, 2)}
            return
        self._swap(index)
        # Said at once: a client that sees the new version in /ready must not read "running" here.
        self.reload_status = {**self.reload_status, "state": "succeeded", "version": index.version,
                              "seconds": round(time.perf_counter() - start, 2)}
        self.metrics.reloads.labels("succeeded").inc()
        log.info("reloaded: now serving %s", index.version)
        freeze_heap()

    # -- watching the artifacts directory ----------------------------------------------------------------------
    def _current_target(self) -> str | None:
        try:
            return newest_bundle_version(self.settings)
        except (FileNotFoundError, OSError):
            return None

    def check_for_new_bundle(self) -> bool:
        """Start a reload when the ``current`` pointer names another bundle than when last checked (a rebuild
        published one). Each new target is tried once: a bundle that fails to load is reported by
        ``GET /admin/reload`` and not retried until the pointer moves again. Returns whether it started one."""
        target = self._current_target()
        if target is None or target == self._seen_target:
            return False
        try:
            self.start_reload()
        except RuntimeError:  # a reload is running; look again next time
            return False
        self._seen_target = target
        log.info("new bundle %s published: reloading", target)
        return True

    def start_watching(self) -> None:
        """Every ``settings.bundle_watch_s`` seconds (0: never), check for a newly published bundle."""
        interval = self.settings.bundle_watch_s
        if interval <= 0 or self._watcher is not None:
            return

        def watch() -> None:
            while not self._stop.wait(interval):
                try:
                    self.check_for_new_bundle()
                    self.apply_forgotten()  # users erased by `cartograph forget-user` meanwhile
                except Exception:  # the watcher must outlive any one bad check
                    log.exception("bundle watcher check failed")

        self._watcher = threading.Thread(target=watch, name="bundle-watcher", daemon=True)
        self._watcher.start()

    def wait_reload(self, timeout: float | None = None) -> dict[str, Any]:
        thread = self._reload_thread
        if thread is not None:
            thread.join(timeout)
        return dict(self.reload_status)

    # -- store ------------------------------------------------------------------------------------------
    def apply_forgotten(self) -> list[str]:
        """Hide from the serving index and the recent-events buffer the users the registry has gained since
        the last call (``cartograph forget-user`` runs in another process); returns the ids hidden."""
        try:
            stamp = self._registry.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if stamp == self._registry_stamp:
            return []
        self._registry_stamp = stamp
        forgotten = read_forgotten(self._registry)
        hidden = hide_forgotten(self.index, forgotten) if self.index is not None else []
        recent = forgotten_among(self.recent.users(), forgotten)
        self.recent.forget(recent)
        if hidden or recent:
            log.info("hid %d forgotten users from the served bundle and the recent events", len(set(hidden + recent)))
        return list(dict.fromkeys(hidden + recent))

    # -- events ---------------------------------------------------------------------------------------------
    def start_events(self) -> None:
        """Open the event log (cutting a torn tail a kill left), take in a spool file the API kept before the
        log existed, and start the graph writer, which resumes from the log's checkpoint."""
        self.events.open()
        legacy = self.settings.home / "events" / "pending.jsonl"
        if legacy.is_file():
            log.info("moved %d spooled events into the event log", self.events.import_jsonl(legacy))
        self.metrics.events_backlog.set_function(lambda: self.events.backlog)
        if self.store is not None:
            self.writer = GraphWriter(self.events, self.store, batch=self.settings.event_writer_batch,
                                      linger_s=self.settings.event_writer_linger_s, forgotten=self._registry)
            self.writer.start()

    def stop_events(self) -> None:
        """Stop the writer after a last bounded attempt at the backlog (what is left waits in the log for the
        next start), then close the log. Safe to call twice."""
        if self.writer is not None:
            self.writer.stop()
            self.writer = None
        self.events.close()

    def store_status(self) -> tuple[bool, str]:
        """(reachable, message) of the graph store, checked now."""
        if self.store is None:
            return False, "no graph store configured"
        try:
            self.store.ping()
        except CartographError as e:
            self.metrics.store_up.set(0)
            return False, str(e).splitlines()[0]
        self.metrics.store_up.set(1)
        return True, "ok"

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def close(self) -> None:
        self.stop_watching()
        self.stop_events()
        if self._reload_thread is not None:
            self._reload_thread.join(timeout=60)
        if self.store is not None:
            self.store.close()
