"""One catalog made ready for the search benchmark: its graph, a bundle to personalise with, the methods.

A catalog home (``<work-dir>/<catalog>``) holds ``graph.lbug`` (the embedded store), ``cache/text`` and
``artifacts/``, i.e. what ``cartograph ingest``, ``extract`` and ``train`` write with ``CARTOGRAPH_HOME`` set
to it. :func:`prepare_home` runs those commands for whatever is missing: ``cartograph train`` as an operator
runs it (every candidate, the best on validation served), so the personal signal is the one a signed-in
user gets (amazon-beauty: about 13 minutes on 2 cores;
amazon-office: about 5). :func:`open_catalog` reads the graph once and starts the API
in-process on it, twice: with the ranker trained beside the bundles (``bench/search_ranker.py``), and with the
hand-set weights (``CARTOGRAPH_SEARCH_RANKER=weights``), the baseline.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from search_methods import ApiSearch, BM25Titles, Dense, Hybrid

from api.serving.glossary import default_cache_dir, installed_glossaries
from kg.config import Settings
from kg.store import open_store
from kg.text import TextEncoder

CLI = str(Path(sys.executable).parent / "cartograph")
#: Users the personalised rows are measured for, per query (chosen by a hash of the query id).
USERS_PER_QUERY = 2
#: A user "with history" for the personalised rows: at least this many distinct products interacted with.
MIN_HISTORY = 5


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CARTOGRAPH_HOME": str(home), "CARTOGRAPH_STORE_BACKEND": "embedded",
            "CARTOGRAPH_QUIET": "1"}


def prepare_home(home: Path, source: Path) -> None:
    """Ingest ``source``, extract entities and train the default bundle into ``home``, each only when missing."""
    env = _env(home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "graph.lbug").exists():
        subprocess.run([CLI, "init"], env=env, check=True)
        subprocess.run([CLI, "ingest", str(source)], env=env, check=True)
        subprocess.run([CLI, "extract"], env=env, check=True)
    if not (home / "artifacts" / "current").is_file():
        subprocess.run([CLI, "train"], env=env, check=True)


@dataclass
class Product:
    id: str
    title: str
    brand: str
    categories: list[str]
    description: str


@dataclass
class Catalog:
    name: str
    products: dict[str, Product]
    methods: dict[str, Any]
    users: list[str]
    client: Any
    dictionaries: list[str] = field(default_factory=list)
    """The bilingual dictionaries the API reads foreign queries with (what is installed here)."""

    def users_for(self, query_id: str, n: int = USERS_PER_QUERY) -> list[str]:
        """``n`` users with history, the same ones on every run (a hash of the query id picks them)."""
        if not self.users:
            return []
        seed = int.from_bytes(hashlib.sha256(query_id.encode()).digest()[:8], "big")
        picks = np.random.default_rng(seed).choice(len(self.users), size=min(n, len(self.users)), replace=False)
        return [self.users[int(i)] for i in picks]


def _names(snapshot: Any, relation: str, node_type: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    edges = snapshot.item_edges[relation]
    for p, t in zip(edges[0], edges[1], strict=True):
        out.setdefault(int(p), []).append(snapshot.names[node_type][int(t)] or snapshot.ids[node_type][int(t)])
    return out


@contextmanager
def open_catalog(name: str, home: Path, *, threads: int = 1) -> Iterator[Catalog]:
    """Read ``home``'s graph, build the methods over it and serve the API in-process while in the block."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from gnn.data import snapshot_from_store

    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0)
    # The hand-set ranker's API beside it (the "graph" row); its own event log, one API per log directory.
    baseline = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0,
                        search_ranker="weights", event_log_dir=home / "events-baseline")
    with open_store(settings, read_only=True) as store:
        snapshot = snapshot_from_store(store)
    ids = snapshot.ids["product"]
    brands, categories = _names(snapshot, "made_by", "brand"), _names(snapshot, "in_category", "category")
    products = {pid: Product(pid, snapshot.titles[i], ", ".join(brands.get(i, [])), categories.get(i, []),
                             snapshot.descriptions[i]) for i, pid in enumerate(ids)}
    encoder = TextEncoder(cache_dir=home / "cache" / "text", num_threads=threads)
    bm25 = BM25Titles(ids, snapshot.titles)
    dense = Dense(ids, encoder.encode(snapshot.product_texts()), lambda q: encoder.encode([q])[0])
    counts = np.bincount(snapshot.inter_user, minlength=snapshot.num_users)
    users = [u for u, c in zip(snapshot.ids["user"], counts, strict=True) if c >= MIN_HISTORY]
    with TestClient(create_app(baseline)) as weights_client, TestClient(create_app(settings)) as client:
        methods = {"bm25": bm25, "dense": dense, "hybrid": Hybrid(bm25, dense), "search": ApiSearch(weights_client),
                   "learned": ApiSearch(client)}
        cache = settings.search_glossary_cache or default_cache_dir()
        dictionaries = [g.name for g in installed_glossaries(cache, settings.search_dictd_dir)]
        yield Catalog(name, products, methods, users, client, dictionaries if settings.search_dictionaries else [])
