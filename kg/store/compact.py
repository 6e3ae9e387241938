"""Compaction of the embedded graph: rewrite every table into a fresh database file with ``COPY``.

Why this exists: kuzu 0.11.3 (its last release; the project is archived) corrupts a node table when string
properties of its rows were updated in several transactions interleaved with relationship inserts (the
pattern of entity extraction: MENTIONS edges, then ``Product.extracted_hash``, batch after batch) and rows are
later *appended* to that table: afterwards the updated column reads back wrong values or fails with
``IO exception: Cannot read from file ... position <past the end of the file>``. Reads are still right
*before* the append, so a graph can be copied out intact. ``scripts/repro_kuzu_append_after_extract.py``
reproduces it with kuzu alone; ``tests/test_compact.py`` guards the workaround.

The workaround: jobs that append nodes to a graph that has seen such updates (``cartograph rebuild``'s graph
step, ``cartograph compact``) first rewrite it. Each table is read into Arrow and bulk-copied into a new file
beside the old one, the counts are checked, and the new file replaces the old with one ``os.replace``: a crash
at any point leaves the old graph as it was, and a re-run starts over. A copied table has no update history,
so the append that follows is safe. It also returns the space that updates leave behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from kg.config import Settings
from kg.errors import StoreError
from kg.queries import QueryLibrary
from kg.schema import NODES, RELATIONSHIPS
from kg.store.cypher_builder import export_nodes_query, export_relationships_query
from kg.store.embedded import EmbeddedStore


@dataclass(frozen=True)
class CompactReport:
    """What a compaction did: rows per table, file sizes before and after, seconds taken."""

    rows: dict[str, int]
    bytes_before: int
    bytes_after: int
    seconds: float


def _copy(target: EmbeddedStore, table_name: str, table: pa.Table) -> None:
    if table.num_rows:
        target.query(f"COPY {table_name} FROM $rows", {"rows": table})


def compact_embedded(path: Path, queries: QueryLibrary) -> CompactReport:
    """Rewrite the embedded graph at ``path`` table by table into a fresh file, then swap it in atomically.

    The caller must hold the database exclusively (no other process may have it open). Raises
    :class:`~kg.errors.StoreError` when the copy does not hold the same number of rows as the original;
    the original is then left in place.
    """
    started = time.perf_counter()
    path = Path(path)
    staging = path.with_name(path.name + ".compact")
    _remove_database(staging)  # what a crashed compaction left
    bytes_before = path.stat().st_size
    rows: dict[str, int] = {}
    with EmbeddedStore(path, queries) as old, EmbeddedStore(staging, queries) as new:
        new.init_schema()
        exports = [(s.label.value, export_nodes_query(s)) for s in NODES.values()]
        exports += [(s.type.value, export_relationships_query(s)) for s in RELATIONSHIPS.values()]
        for table_name, export in exports:
            table = old.query_arrow(export)
            _copy(new, table_name, table)
            rows[table_name] = table.num_rows
        copied = {**new.count_nodes(), **new.count_relationships()}
    if copied != rows:
        _remove_database(staging)
        raise StoreError(f"compaction of {path} lost rows (read {rows}, copied {copied}); the graph is unchanged")
    _remove_database(path, keep_main=True)
    os.replace(staging, path)
    return CompactReport(rows, bytes_before, path.stat().st_size, time.perf_counter() - started)


# Files kuzu keeps beside a database file ``graph.kuzu``: its write-ahead log and shadow pages.
_SIDECARS = (".wal", ".shadow", ".tmp")


def compact_before_append(settings: Settings) -> CompactReport | None:
    """Compact the configured graph if it is an existing embedded one (the jobs that may append nodes call
    this first; see the module docstring). Neo4j, or no graph yet: nothing to do, ``None``."""
    if settings.resolved_backend != "embedded" or settings.embedded_path is None:
        return None
    if not settings.embedded_path.exists():
        return None
    return compact_embedded(settings.embedded_path, QueryLibrary(settings.cypher_dir))


def _remove_database(path: Path, *, keep_main: bool = False) -> None:
    """Delete a database file and the files kuzu keeps beside it. After a clean close only the main file
    exists; a stale write-ahead log left beside a swapped-in file would be replayed into it."""
    for suffix in _SIDECARS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    if not keep_main:
        path.unlink(missing_ok=True)
