"""Stage, then publish: an ingest into the embedded store is built in a copy of the database and swapped in.

Readers (the API, ``cartograph query``) never see a half-loaded graph: the live file is untouched until the
ingest has loaded everything and closed the copy; then one ``os.replace`` (atomic on one file system) puts the
copy in its place, and the next statement of every reader opens the new graph. A crash or
an exception at any point before that leaves the live graph as it was and a stale copy, which the next run
removes first: so a rerun after a kill starts from the same graph as the killed run, and takes the bulk path
(``COPY``) whenever the killed run could.

One ingest at a time per database (an advisory lock file beside it). The live file must not change while
the copy is built (a write to it in the meantime would be lost by the swap), so the run holds the engine's
write lock on it from the copy to the swap, as an unstaged ingest did: the API, which opens the graph per
statement, spools events meanwhile and writes them into the new graph afterwards, and answers explanations
with 503 (its recommendations come from memory). The lock is taken with no write, so the old file is left
byte for byte as it was; closing that handle after the swap touches only the old file. As a second check the
publish compares the live file's size and modification time with those at the copy and refuses to swap
(:class:`~kg.errors.IngestAbortedError`, nothing published) when they differ. A write-ahead log left beside
the live file by a crashed writer is checkpointed into it before the copy, by opening and closing it.

Costs: one copy of the database file per run (disk speed; none when there is no graph yet) and twice its
size on disk while the run lasts. Neo4j is not staged: a server database cannot be copied and swapped from a
client, and its writes are idempotent upserts, so a crash there leaves a partial graph that the rerun
completes (see docs/catalog-format.md, "Guarantees").
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kg.config import Settings
from kg.durable import fsync_path
from kg.errors import IngestAbortedError, StoreUnavailableError
from kg.faults import fault_point
from kg.queries import QueryLibrary
from kg.store.embedded import EmbeddedStore

STAGING_SUFFIX = ".staging"
LOCK_SUFFIX = ".ingest.lock"
WAL_SUFFIX = ".wal"


def staging_path(live: Path) -> Path:
    return live.with_name(live.name + STAGING_SUFFIX)


@contextmanager
def staged(settings: Settings) -> Iterator[Settings]:
    """Settings whose embedded graph is a staged copy of the live one; published when the block ends
    without an exception, discarded otherwise. Other backends get ``settings`` unchanged."""
    if settings.resolved_backend != "embedded":
        yield settings
        return
    live = settings.embedded_path
    stage = staging_path(live)
    live.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(live.with_name(live.name + LOCK_SUFFIX)):
        _remove(stage)  # what a killed run left
        existed = live.exists()
        _checkpoint(live, settings)
        holder = EmbeddedStore(live, QueryLibrary(settings.cypher_dir), settings.batch_size)
        with ExitStack() as keep_open:
            # Closing any descriptor of a file drops this process's fcntl locks on it (POSIX), the engine's
            # included: the copy's source stays open until the holder has closed (ExitStack: last in, first out).
            source = keep_open.enter_context(live.open("rb")) if existed else None
            keep_open.callback(holder.close)  # the old file's handle; it wrote nothing: the new file is untouched
            holder.query("RETURN 1 AS one")  # the engine's write lock on the live file, held to the swap
            before = _snapshot(live)
            if source is not None:
                with stage.open("wb") as target:
                    shutil.copyfileobj(source, target, 16 << 20)
            try:
                yield settings.model_copy(update={"embedded_path": stage})
            except BaseException:
                _remove(stage)
                raise
            fault_point("ingest:before-publish")
            _publish(stage, live, before)  # while the lock is held: no writer slips in before the swap


def _publish(stage: Path, live: Path, before: tuple[int, int] | None) -> None:
    if _snapshot(live) != before or _wal(live).exists():
        _remove(stage)
        raise IngestAbortedError(f"{live} changed while the ingest was staged (another process wrote to it); "
                                 "nothing was published, the graph is as it was: run the ingest again")
    if _wal(stage).exists():  # the staged store was not closed cleanly: never publish half a database
        _remove(stage)
        raise IngestAbortedError(f"the staged copy {stage} was not closed cleanly; nothing was published")
    fsync_path(stage)
    os.replace(stage, live)
    fsync_path(live.parent)


def _checkpoint(live: Path, settings: Settings) -> None:
    """Fold a write-ahead log a crashed writer left into the live file (opening and closing replays it)."""
    if not _wal(live).exists() or not live.exists():
        return
    store = EmbeddedStore(live, QueryLibrary(settings.cypher_dir), settings.batch_size)
    try:
        store.query("RETURN 1 AS one")
    finally:
        store.close()


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise StoreUnavailableError(f"another ingest into {lock_path.name.removesuffix(LOCK_SUFFIX)} is "
                                        "running (one at a time per graph); wait for it to finish") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _snapshot(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _wal(path: Path) -> Path:
    return path.with_name(path.name + WAL_SUFFIX)


def _remove(stage: Path) -> None:
    for path in (stage, _wal(stage)):
        path.unlink(missing_ok=True)


