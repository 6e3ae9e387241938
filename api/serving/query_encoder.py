"""Query embeddings for dense search: MiniLM (or the configured model) with an in-memory LRU of queries.

The product side of the dense index is encoded once per bundle (through the on-disk text cache that training
fills); queries are encoded per request, without the disk cache (a SQLite round trip per query would cost more
than it saves), and the last few thousand queries are remembered. The model is loaded at startup, not on the
first request, so the first search is not a multi-second outlier.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from api.serving.text import normalize
from kg.text import TextEncoder


class QueryEncoder:
    """Thread-safe, cached ``query -> unit vector``."""

    def __init__(self, encoder: TextEncoder | None = None, cache_size: int = 4096) -> None:
        self.encoder = encoder or TextEncoder(cache_dir=None)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded = False

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
        key = normalize(query)
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self._cache.move_to_end(key)
                return vec
        self.warm_up()
        vec = self.encoder.encode([query])[0]
        vec.setflags(write=False)
        with self._lock:
            self._cache[key] = vec
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vec
