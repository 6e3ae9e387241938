"""The :class:`GraphStore` interface: one API over every graph backend.

Backends implement three primitives (``_execute``, ``ping``, ``close``); everything else
(validation against the schema allow-list, batching, generated statements, named queries) lives here once, so
the backends cannot drift apart. ``tests/test_store.py`` runs the same tests against every backend.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from kg.errors import SchemaError, StoreError, ValidationError
from kg.queries import Dialect, NamedQuery, QueryLibrary, split_statements
from kg.schema import (
    NODES,
    RELATIONSHIPS,
    NodeLabel,
    NodeSpec,
    PropType,
    RelType,
    check_properties,
    node_spec,
    rel_spec,
)
from kg.store import cypher_builder as cb

Row = Mapping[str, Any]
Record = dict[str, Any]
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class StoreCapabilities:
    """What a backend can do beyond the common interface (llama_index-style capability flags)."""

    embedded: bool
    """Runs in this process with no server."""
    bulk_copy: bool
    """Has a bulk path (COPY FROM) for loading into empty tables, much faster than MERGE."""
    concurrent_processes: bool
    """Several processes may write at once (the embedded engine locks its files to one writer)."""


@dataclass(frozen=True)
class UpsertResult:
    """``requested`` rows were sent; ``written`` nodes or edges were merged. For relationships the
    difference is the rows whose source or target node does not exist."""

    requested: int
    written: int

    @property
    def missing_endpoints(self) -> int:
        return self.requested - self.written


def _check_type(prop_type: PropType, value: Any) -> bool:
    if value is None:
        return True
    if prop_type is PropType.STRING:
        return isinstance(value, str)
    if prop_type is PropType.BOOLEAN:
        return isinstance(value, bool)
    if prop_type is PropType.INT64:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _id_chunks(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for node_id in ids:
        if not isinstance(node_id, str) or not node_id:
            raise ValidationError(f"node ids must be non-empty strings, got {node_id!r}")
        chunk.append(node_id)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _group_by_keys(batch: Sequence[Row]) -> dict[frozenset[str], list[Row]]:
    """Rows with the same key set share one statement: absent properties stay untouched on update."""
    groups: dict[frozenset[str], list[Row]] = {}
    for row in batch:
        groups.setdefault(frozenset(row), []).append(row)
    return groups


class GraphStore(ABC):
    """A property graph with the Cartograph schema.

    Args:
        queries: where named query files are found.
        batch_size: rows per ``UNWIND`` statement for upserts and deletes.
    """

    dialect: ClassVar[Dialect]
    capabilities: ClassVar[StoreCapabilities]

    def __init__(self, queries: QueryLibrary, batch_size: int = 1000) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.queries = queries
        self.batch_size = batch_size

    # -- primitives each backend implements -------------------------------------------------------------
    @abstractmethod
    def _execute(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run one statement (auto-commit) and return its rows as dicts."""

    def init_schema(self) -> int:
        """Apply ``cypher/schema/<dialect>.cypher`` (idempotent DDL); return the number of statements run."""
        ddl_path = self.queries.cypher_dir / "schema" / f"{self.dialect}.cypher"
        try:
            statements = split_statements(ddl_path.read_text(encoding="utf-8"))
        except OSError as e:
            raise StoreError(f"cannot read schema file {ddl_path}: {e}") from e
        for statement in statements:
            self._execute(statement)
        return len(statements)

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` unless the store answers a trivial query."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and file locks. Safe to call twice."""

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Run the statements inside on one connection, kept for the whole block (a batch of writes). Here:
        nothing to hold; the embedded engine, when it shares its file, otherwise reopens it per statement."""
        yield

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------------------
    def upsert_nodes(
        self, label: NodeLabel | str, rows: Iterable[Row], *, on_batch: ProgressCallback | None = None
    ) -> UpsertResult:
        """Create or update nodes by ``id``. Properties absent from a row are left as they are; a property
        given as ``None`` is cleared. Idempotent: the same rows twice leave the graph as after once."""
        spec = node_spec(label)
        requested = written = 0
        for batch in _batches(rows, self.batch_size):
            for keys, group in _group_by_keys(batch).items():
                self._validate_rows(f"node {spec.label.value}", dict(spec.properties), keys, group, ("id",))
                written += self._upsert_node_group(spec, keys, group)
            requested += len(batch)
            if on_batch:
                on_batch(len(batch))
        return UpsertResult(requested, written)

    def _upsert_node_group(self, spec: NodeSpec, keys: frozenset[str], group: list[Row]) -> int:
        """One statement's rows (one key set): ``MERGE`` by key, then ``SET``; returns the rows written."""
        query = cb.upsert_nodes_query(spec, keys, self.dialect)
        return self._scalar(query, {"rows": [dict(r) for r in group]}, "written")

    def upsert_relationships(
        self, rel_type: RelType | str, rows: Iterable[Row], *, on_batch: ProgressCallback | None = None
    ) -> UpsertResult:
        """Create or update edges from ``row['src']`` to ``row['dst']`` (node ids). At most one edge of a type
        joins a pair; its properties are updated like nodes'. Rows naming a missing node write nothing and
        are counted in :attr:`UpsertResult.missing_endpoints`."""
        spec = rel_spec(rel_type)
        allowed = {"src": PropType.STRING, "dst": PropType.STRING, **spec.properties}
        requested = written = 0
        for batch in _batches(rows, self.batch_size):
            for keys, group in _group_by_keys(batch).items():
                self._validate_rows(f"relationship {spec.type.value}", allowed, keys, group, ("src", "dst"))
                query = cb.upsert_relationships_query(spec, keys - {"src", "dst"}, self.dialect)
                written += self._scalar(query, {"rows": [dict(r) for r in group]}, "written")
            requested += len(batch)
            if on_batch:
                on_batch(len(batch))
        return UpsertResult(requested, written)

    def set_active(self, label: NodeLabel | str, ids: Iterable[str], active: bool) -> int:
        """Mark nodes active or inactive (inactive products stay explorable but are never recommended)."""
        spec = node_spec(label)
        if "active" not in spec.properties:
            raise SchemaError(f"node {spec.label.value} has no 'active' property")
        query = cb.set_active_query(spec)
        return sum(
            self._scalar(query, {"ids": chunk, "active": active}, "changed")
            for chunk in _id_chunks(ids, self.batch_size)
        )

    def deactivate(self, label: NodeLabel | str, ids: Iterable[str]) -> int:
        return self.set_active(label, ids, False)

    def delete_nodes(self, label: NodeLabel | str, ids: Iterable[str]) -> int:
        """Delete nodes and their edges; returns the number of nodes deleted."""
        spec = node_spec(label)
        query = cb.delete_nodes_query(spec)
        return sum(self._scalar(query, {"ids": chunk}, "deleted") for chunk in _id_chunks(ids, self.batch_size))

    def delete_relationships(self, rel_type: RelType | str, pairs: Iterable[tuple[str, str]]) -> int:
        """Delete the edges of ``rel_type`` between the given (source id, target id) pairs."""
        spec = rel_spec(rel_type)
        rows = ({"src": s, "dst": d} for s, d in pairs)
        return sum(
            self._scalar(cb.delete_relationships_query(spec), {"rows": [dict(r) for r in chunk]}, "deleted")
            for chunk in _batches(rows, self.batch_size)
        )

    # -- reads ------------------------------------------------------------------------------------------
    def count_nodes(self) -> dict[str, int]:
        """Number of nodes per label, every label of the schema included (zero when empty)."""
        return {lbl.value: self._scalar(cb.count_nodes_query(spec), {}, "count") for lbl, spec in NODES.items()}

    def count_relationships(self) -> dict[str, int]:
        """Number of edges per relationship type, every type of the schema included."""
        return {
            t.value: self._scalar(cb.count_relationships_query(spec), {}, "count") for t, spec in RELATIONSHIPS.items()
        }

    def named_query(self, name: str) -> NamedQuery:
        return self.queries.get(name, self.dialect)

    def run_named(self, name: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the named query file ``cypher/queries/<name>.cypher`` with ``params`` (checked first)."""
        query = self.named_query(name)
        params = dict(params or {})
        query.check_parameters(params)
        return self._execute(query.text, params)

    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Run arbitrary Cypher with parameters (for analysts and tools; the product uses named queries)."""
        return self._execute(cypher, dict(params or {}))

    # -- helpers ----------------------------------------------------------------------------------------
    def _scalar(self, cypher: str, params: Mapping[str, Any], column: str) -> int:
        rows = self._execute(cypher, params)
        return int(rows[0][column]) if rows else 0

    @staticmethod
    def _validate_rows(
        owner: str, allowed: Mapping[str, PropType], keys: frozenset[str], rows: Sequence[Row], required: Sequence[str]
    ) -> None:
        check_properties(owner, allowed, keys)
        for name in required:
            if name not in keys:
                raise ValidationError(f"{owner}: every row needs {name!r}; got keys {sorted(keys)}")
        for i, row in enumerate(rows):
            for name, value in row.items():
                if name in required and (not isinstance(value, str) or not value):
                    raise ValidationError(f"{owner} row {i}: {name!r} must be a non-empty string, got {value!r}")
                if not _check_type(allowed[name], value):
                    raise ValidationError(
                        f"{owner} row {i} (id {row.get('id', row.get('src'))!r}): property {name!r} must be "
                        f"{allowed[name].value}, got {type(value).__name__} {value!r}"
                    )
