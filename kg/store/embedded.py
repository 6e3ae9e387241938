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

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import ladybug

from kg.errors import QueryError, StoreUnavailableError
from kg.queries import Dialect, QueryLibrary
from kg.schema import NodeSpec
from kg.store import cypher_builder as cb
from kg.store.base import GraphStore, Record, Row, StoreCapabilities

#: ``<graph file>.wanted``: a process waiting for a file that a sharing process holds (re)writes it, with its
#: token, every poll; the sharing process closes the file within :data:`RELEASE_POLL_S` and opens it again
#: only once the marker is gone or stale (the waiter opened the file, gave up or died).
WANTED_SUFFIX = ".wanted"
#: How often the sharing process looks for a waiter and for idleness.
RELEASE_POLL_S = 0.05
#: A marker not rewritten for this long is stale.
WANTED_FRESH_S = 1.0
#: The sharing store of this process that holds each file (resolved path). The engine's lock is per process, so
#: a second store of the same process (tests start several apps) would open the file beside the first and each
#: would miss the other's writes; it asks the holder to let go first instead.
_HOLDERS: dict[Path, EmbeddedStore] = {}
_HOLDERS_LOCK = threading.Lock()
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
        release_between_calls: share the file with other processes, as the long-running API shares the graph
            with rebuild jobs: the database is kept open between statements only until ``idle_release_s``
            passes without one, or until another process asks for the file (see :data:`WANTED_SUFFIX`); a
            background thread then closes it. While another process holds it, calls raise
            :class:`StoreUnavailableError` at once (no waiting).
        buffer_pool_mb: most memory the engine's page cache may take (0: the engine's default, about 80% of
            the machine's memory). A long-running process caps it so that its memory stays bounded as the
            graph grows with the events it writes.

    Why not close after every statement: the engine holds Python's GIL while it opens a database (40-70 ms)
    and while it closes one that was written (a checkpoint, 120-150 ms), so in the API every statement stalled
    every request of the process, events included, for up to 200 ms. Statements themselves release the GIL.
    """

    dialect: ClassVar[Dialect] = "kuzu"
    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        embedded=True, bulk_copy=True, concurrent_processes=False
    )
    #: How long a job waits for a file that a sharing process (the API) holds.
    lock_wait_s: ClassVar[float] = 10.0
    #: A sharing process closes the file after this long without a statement (longer than the API graph
    #: writer's pause between batches, so that a steady stream of events keeps it open).
    idle_release_s: ClassVar[float] = 3.0

    def __init__(self, path: Path, queries: QueryLibrary, batch_size: int = 1000, *, read_only: bool = False,
                 release_between_calls: bool = False, buffer_pool_mb: int = 0) -> None:
        super().__init__(queries, batch_size)
        self.path = Path(path)
        self.buffer_pool_mb = buffer_pool_mb
        self.read_only = read_only
        self.release_between_calls = release_between_calls
        self._db: ladybug.Database | None = None
        self._conn: ladybug.Connection | None = None
        # A Connection must not run two statements at once; the API calls from a thread pool.
        self._lock = threading.RLock()
        self._last_used = 0.0
        self._token = f"{os.getpid()}:{id(self)}"  # tells this store's own "wanted" marker from another's
        self._opened = 0  # counts opens: a releaser looks after the database of one open only
        self._release_asked = False  # another store of this process wants the file

    def _connection(self) -> ladybug.Connection:
        if self._conn is None:
            old = self.path.with_name(KUZU_FILE)
            if not self.path.exists() and old.is_file() and old != self.path:
                raise StoreUnavailableError(f"no embedded graph at {self.path}, but {kuzu_file_message(old)}")
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise StoreUnavailableError(f"embedded graph {self.path} does not exist; run `cartograph init`")
            if self.release_between_calls and self._another_waits():
                raise StoreUnavailableError(f"embedded graph at {self.path} is wanted by another process "
                                            "(a job); try again after it")
            self._wait_for_holder_in_this_process()
            self._conn = self._open_waiting()
            if self.release_between_calls:
                with _HOLDERS_LOCK:
                    _HOLDERS[self.path.resolve()] = self
                self._last_used = time.monotonic()
                self._opened += 1
                threading.Thread(target=self._release_when_idle_or_wanted, args=(self._opened,), daemon=True,
                                 name="embedded-graph-releaser").start()
        return self._conn

    def _open_waiting(self) -> ladybug.Connection:
        """Open the database. A file another process holds: a job asks for it (the marker) and waits up to
        ``lock_wait_s``; a sharing process asks too but gives up at once (it degrades, and retries later)."""
        deadline = time.monotonic() + (0.0 if self.release_between_calls else self.lock_wait_s)
        opened = False
        try:
            while True:
                try:
                    self._db = ladybug.Database(str(self.path), read_only=self.read_only,
                                                buffer_pool_size=self.buffer_pool_mb << 20)
                    conn = ladybug.Connection(self._db)
                    opened = True
                    return conn
                except RuntimeError as e:
                    if "not a valid Lbug database file" in str(e):
                        raise StoreUnavailableError(kuzu_file_message(self.path)) from e
                    if "Could not set lock" in str(e):
                        self._ask_for_file()
                    if "Could not set lock" not in str(e) or time.monotonic() >= deadline:
                        raise StoreUnavailableError(
                            f"cannot open embedded graph at {self.path} (is another process using it?): {e}"
                        ) from e
                    time.sleep(RELEASE_POLL_S)
        finally:
            if opened or not self.release_between_calls:  # a sharing process that failed keeps asking
                self._withdraw_ask()

    def _wait_for_holder_in_this_process(self) -> None:
        """Ask another sharing store of this process that holds the file to let go, and wait (``lock_wait_s`` at
        most) until it has."""
        with _HOLDERS_LOCK:
            holder = _HOLDERS.get(self.path.resolve())
        if holder is None or holder is self:
            return
        holder._release_asked = True
        deadline = time.monotonic() + self.lock_wait_s
        while holder._conn is not None and time.monotonic() < deadline:
            time.sleep(RELEASE_POLL_S / 5)

    # -- sharing the file: the "wanted" marker ----------------------------------------------------------
    @property
    def _wanted_path(self) -> Path:
        return self.path.with_name(self.path.name + WANTED_SUFFIX)

    def _ask_for_file(self) -> None:
        with contextlib.suppress(OSError):  # no marker: the holder lets go when idle all the same
            self._wanted_path.write_text(self._token, encoding="utf-8")

    def _withdraw_ask(self) -> None:
        with contextlib.suppress(OSError):
            if self._wanted_path.read_text(encoding="utf-8") == self._token:
                self._wanted_path.unlink()

    def _another_waits(self) -> bool:
        """A fresh marker that another store wrote."""
        try:
            fresh = time.time() - self._wanted_path.stat().st_mtime < WANTED_FRESH_S
            return fresh and self._wanted_path.read_text(encoding="utf-8") != self._token
        except OSError:
            return False

    def _release_when_idle_or_wanted(self, opened: int) -> None:
        """The sharing process's releaser: closes the database once idle or wanted, then ends (the next
        statement opens it again and starts another). Closing holds the GIL (see the class docstring), which is
        why it happens only then and not after every statement."""
        while True:
            time.sleep(RELEASE_POLL_S)
            if self._conn is None or self._opened != opened:
                return
            if not self._should_release():
                continue
            with self._lock:  # waits for a statement or a held block to finish
                if self._conn is None or self._opened != opened:
                    return
                if self._should_release():
                    self.close()
                    return

    def _should_release(self) -> bool:
        return (self._release_asked or time.monotonic() - self._last_used >= self.idle_release_s
                or self._another_waits())

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
                self._last_used = time.monotonic()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Run the statements of the block on one connection, with no other thread's statement in between
        and no release (a sharing process's releaser waits for the block)."""
        with self._lock:
            try:
                yield
            finally:
                self._last_used = time.monotonic()

    def _upsert_node_group(self, spec: NodeSpec, keys: frozenset[str], group: list[Row]) -> int:
        """The engine plans ``UNWIND ... MERGE`` as a join over the whole node table (1.3 s for 1,000 users
        beside 342,000: the API's event writer slowed as users came), while a key lookup per row is an index
        probe (4 ms). So: look the keys up, ``CREATE`` the new nodes, ``SET`` the existing ones. The file has one
        writing process and the block holds the connection, so nothing comes in between. A key twice in the
        group: its last row wins, as ``MERGE`` then ``SET`` row by row leaves it."""
        latest = {row[spec.key]: dict(row) for row in group}
        with self.holding():
            found = {r["key"] for r in self._execute(cb.existing_keys_query(spec), {"keys": list(latest)})}
            new = [row for key, row in latest.items() if key not in found]
            if new:
                self._execute(cb.create_nodes_query(spec, keys, self.dialect), {"rows": new})
            if found and keys != {spec.key}:
                old = [row for key, row in latest.items() if key in found]
                self._execute(cb.update_nodes_query(spec, keys, self.dialect), {"rows": old})
        return len(group)

    def ping(self) -> None:
        self._execute("RETURN 1 AS ok")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            if self._db is not None:
                self._db.close()
            self._conn = self._db = None
            self._release_asked = False
            with _HOLDERS_LOCK:
                if _HOLDERS.get(self.path.resolve()) is self:
                    del _HOLDERS[self.path.resolve()]
