"""Query embeddings for dense search: MiniLM (or the configured model) with an in-memory LRU of queries, and
one background thread that encodes the queries missing from it in batches.

The product side of the dense index is encoded once per bundle (through the on-disk text cache that training
fills); queries are encoded per request, without the disk cache (a SQLite round trip per query would cost more
than it saves), and the last few thousand queries are remembered. The model is loaded at startup, not on the
first request, so the first search is not a multi-second outlier.

Batching: a burst of new queries (a cold cache after a restart, a campaign) used to cost one forward pass per
request, each on its own request thread, and the 2-core soak run queued them for seconds. Now the requests
waiting at the same moment share one forward pass (up to ``max_batch`` queries: MiniLM encodes 32 short
queries in a few times the time of one), with no artificial delay: the batcher takes whatever has arrived while
the previous batch ran. The same query asked twice at once is encoded once. A caller may bound its wait
(:meth:`QueryEncoder.encode_within`): search then answers without dense retrieval and says so, and the vector
still reaches the cache for the next time (load shedding of the one expensive step, not an error).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from api.serving.text import normalize
from kg.text import TextEncoder

log = logging.getLogger(__name__)


class QueryEncoder:
    """Thread-safe, cached ``query -> unit vector``, encoded in batches by one background thread.

    Args:
        encoder: the text model (default: MiniLM, no disk cache).
        cache_size: queries remembered (least recently used out first).
        max_batch: most queries encoded in one forward pass.
    """

    def __init__(self, encoder: TextEncoder | None = None, cache_size: int = 4096, max_batch: int = 32) -> None:
        self.encoder = encoder or TextEncoder(cache_dir=None)
        self.cache_size = cache_size
        self.max_batch = max_batch
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded = False
        self._pending: dict[str, tuple[str, Future[np.ndarray]]] = {}
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None

    def warm_up(self) -> None:
        """Load the model now (once), so no request pays for it."""
        with self._load_lock:
            if not self._loaded:
                self.encoder.encode(["warm up"])
                self._loaded = True

    @property
    def dim(self) -> int:
        self.warm_up()
        return self.encoder.dim

    def encode(self, query: str) -> np.ndarray:
        """The unit vector of ``query``, waiting as long as it takes."""
        vec = self.encode_within(query, None)
        assert vec is not None  # no time limit: the future's result or its exception
        return vec

    def encode_within(self, query: str, wait_s: float | None) -> np.ndarray | None:
        """The unit vector of ``query``, or None when it is not ready within ``wait_s`` seconds (None: no
        limit). An encoding error is raised to every caller waiting for that query."""
        key = normalize(query)
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self._cache.move_to_end(key)
                return vec
        future = self._submit(key, query)
        try:
            return future.result(timeout=wait_s)
        except FutureTimeout:
            return None

    @property
    def queued(self) -> int:
        """Queries waiting for (or in) a forward pass."""
        with self._wake:
            return len(self._pending)

    def _submit(self, key: str, text: str) -> Future[np.ndarray]:
        with self._wake:
            waiting = self._pending.get(key)
            if waiting is not None:
                return waiting[1]
            future: Future[np.ndarray] = Future()
            self._pending[key] = (text, future)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="query-encoder", daemon=True)
                self._worker.start()
            self._wake.notify()
            return future

    def _run(self) -> None:
        self.warm_up()
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch = list(self._pending.items())[:self.max_batch]
            self._encode_batch(batch)

    def _encode_batch(self, batch: list[tuple[str, tuple[str, Future[np.ndarray]]]]) -> None:
        try:
            vectors = self.encoder.encode([text for _, (text, _) in batch])
        except Exception as e:
            log.exception("query encoding failed for %d queries", len(batch))
            with self._wake:
                for key, (_, future) in batch:
                    self._pending.pop(key, None)
                    future.set_exception(e)
            return
        with self._lock:
            for (key, _), vec in zip(batch, vectors, strict=True):
                vec.setflags(write=False)
                self._cache[key] = vec
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        with self._wake:
            for (key, (_, future)), vec in zip(batch, vectors, strict=True):
                self._pending.pop(key, None)
                future.set_result(vec)
