"""The embedded backend: LadybugDB (``ladybug``, the maintained fork of Kuzu), an in-process Cypher database on
disk (no server). It speaks Kuzu's Cypher dialect (the ``kuzu`` dialect of :mod:`kg.queries`).

LadybugDB locks its database file to one read-write process at a time; a second process gets
:class:`StoreUnavailableError` with the path in the message. The database is opened on first use, not in
the constructor. Dialect differences from Neo4j (all isolated here and in :mod:`kg.store.cypher_builder`):
  - a schema of node and relationship tables must exist before writing (``cypher/schema/kuzu.cypher``);
  - parameter types are inferred from Python values, so generated SETs ``CAST`` to the declared type;
  - node values come back as dicts with ``_id``/``_label`` keys, removed here so rows match Neo4j's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import ladybug

from kg.errors import QueryError, StoreUnavailableError
from kg.queries import Dialect, QueryLibrary
from kg.store.base import GraphStore, Record, StoreCapabilities

_INTERNAL_KEYS = frozenset({"_ID", "_LABEL", "_SRC", "_DST", "_id", "_label", "_src", "_dst"})
#: What an embedded graph written by Kuzu (before Cartograph moved to LadybugDB) is called by default.
KUZU_FILE = "graph.kuzu"


def kuzu_file_message(path: Path) -> str:
    target = path.with_name("graph.lbug") if path.name != "graph.lbug" else path.with_name("converted.lbug")
    return (f"{path} is a Kuzu database: Cartograph's embedded engine is LadybugDB now, so convert it once with "
            f"`python scripts/convert_kuzu_to_ladybug.py {path} {target}` (it needs the kuzu package: the project's "
            "kuzu extra) and set CARTOGRAPH_EMBEDDED_PATH to the new file if it is not the default; or ingest again")


def _plain(value: Any) -> Any:
    """The engine returns nodes and relationships as dicts with internal keys; strip them for portability."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in _INTERNAL_KEYS}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class EmbeddedStore(GraphStore):
    """Graph store on an embedded LadybugDB database at ``path``.

    Args:
        path: database file; its parent directory is created on first use.
        queries: named query library.
        batch_size: rows per ``UNWIND`` statement.
        read_only: open without write access (several read-only processes may share one database).
        release_between_calls: close the database after every statement (about 30 ms to open again), so that
            other processes can take the file in between: how a long-running API shares the graph with
            rebuild jobs. While another process holds it, calls raise :class:`StoreUnavailableError`.
    """

    dialect: ClassVar[Dialect] = "kuzu"
    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        embedded=True, bulk_copy=True, concurrent_processes=False
    )
    #: How long a job waits for a file that a sharing process (the API, between statements) holds.
    lock_wait_s: ClassVar[float] = 10.0

    def __init__(self, path: Path, queries: QueryLibrary, batch_size: int = 1000, *, read_only: bool = False,
                 release_between_calls: bool = False) -> None:
        super().__init__(queries, batch_size)
        self.path = Path(path)
        self.read_only = read_only
        self.release_between_calls = release_between_calls
        self._db: ladybug.Database | None = None
        self._conn: ladybug.Connection | None = None
        # A Connection must not run two statements at once; the API calls from a thread pool.
        self._lock = threading.RLock()

    def _connection(self) -> ladybug.Connection:
        if self._conn is None:
            old = self.path.with_name(KUZU_FILE)
            if not self.path.exists() and old.is_file() and old != self.path:
                raise StoreUnavailableError(f"no embedded graph at {self.path}, but {kuzu_file_message(old)}")
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise StoreUnavailableError(f"embedded graph {self.path} does not exist; run `cartograph init`")
            # A process that shares the graph (the API) holds the file only for one statement at a time:
            # wait that out. The sharing process itself gives up at once and degrades instead.
            deadline = time.monotonic() + (0.0 if self.release_between_calls else self.lock_wait_s)
            while True:
                try:
                    self._db = ladybug.Database(str(self.path), read_only=self.read_only)
                    self._conn = ladybug.Connection(self._db)
                    break
                except RuntimeError as e:
                    if "not a valid Lbug database file" in str(e):
                        raise StoreUnavailableError(kuzu_file_message(self.path)) from e
                    if "Could not set lock" not in str(e) or time.monotonic() >= deadline:
                        raise StoreUnavailableError(
                            f"cannot open embedded graph at {self.path} (is another process using it?): {e}"
                        ) from e
                    time.sleep(0.05)
        return self._conn

    def _execute(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        with self._lock:
            conn = self._connection()
            try:
                result = conn.execute(cypher, dict(params or {}))
                if isinstance(result, list):  # several statements in one string
                    result = result[-1]
                columns = result.get_column_names()
                rows = []
                while result.has_next():
                    rows.append({col: _plain(val) for col, val in zip(columns, result.get_next(), strict=True)})
                return rows
            except RuntimeError as e:
                raise QueryError(f"embedded engine rejected the statement: {e}\n--- statement ---\n{cypher}") from e
            finally:
                if self.release_between_calls:
                    self.close()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the file open for the statements of the block and let go after it: a batch of writes pays one
        open (about 30 ms) instead of one per statement. Other threads' statements wait for the block."""
        with self._lock:
            release, self.release_between_calls = self.release_between_calls, False
            try:
                yield
            finally:
                self.release_between_calls = release
                if release:
                    self.close()

    def ping(self) -> None:
        self._execute("RETURN 1 AS ok")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            if self._db is not None:
                self._db.close()
            self._conn = self._db = None
