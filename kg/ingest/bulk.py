"""Bulk first load on the embedded engine: ``COPY <table> FROM $rows`` with an Arrow table.

Kuzu writes relationships through ``UNWIND $rows ... MERGE`` at about 5k/s on two cores; ``COPY FROM`` writes
a million in a couple of seconds (see ../shared/ARCHITECTURE.md, "Facts measured"). ``COPY`` has no MERGE
semantics (a duplicate primary key fails the whole statement), so the pipeline uses it only when every table
it will write to is empty, and falls back to the store's idempotent upserts otherwise. Rows are the same dicts
the upserts take, so the graph is the same either way (``tests/test_ingest.py`` compares both).

This lives outside :mod:`kg.store` on purpose: it is a loading strategy of the ingest, built only on the
store's public :meth:`~kg.store.base.GraphStore.query`. Kuzu accepts the Arrow table as a parameter, so no
value is ever formatted into the statement; identifiers come from the schema allow-list as everywhere.
An Arrow table (not a pandas DataFrame) carries explicit column types, so an all-null column keeps its type
and no pandas string dtype reaches the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from kg.errors import ValidationError
from kg.schema import NodeLabel, PropType, RelType, check_properties, node_spec, rel_spec
from kg.store.base import GraphStore
from kg.store.embedded import EmbeddedStore

Target = NodeLabel | RelType

_ARROW_TYPES: dict[PropType, pa.DataType] = {
    PropType.STRING: pa.string(),
    PropType.INT64: pa.int64(),
    PropType.DOUBLE: pa.float64(),
    PropType.BOOLEAN: pa.bool_(),
}


def supports_copy(store: GraphStore) -> bool:
    """Whether ``store`` has the bulk path (the embedded engine, opened for writing)."""
    return isinstance(store, EmbeddedStore) and store.capabilities.bulk_copy and not store.read_only


def _column(name: str, prop_type: PropType, rows: Sequence[Mapping[str, Any]]) -> pa.Array:
    try:
        return pa.array([row.get(name) for row in rows], type=_ARROW_TYPES[prop_type])
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:  # validation bounds make these a bug
        raise ValidationError(f"bulk load: column {name!r} must hold {prop_type.value} values: {e}") from e


def copy_rows(store: GraphStore, target: Target, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write ``rows`` into the empty table ``target`` with one ``COPY``; return the number of rows written.

    Node rows need ``id``; relationship rows ``src`` and ``dst`` (node ids); other keys are properties of the
    schema, and a key absent from a row is null. The caller guarantees the table is empty and (for
    relationships) that both endpoints of every row exist: ``COPY`` fails as a whole otherwise.
    """
    if not rows:
        return 0
    if isinstance(target, NodeLabel):
        props, lead, owner = dict(node_spec(target).properties), ["id"], f"node {target.value}"
    else:
        props, lead, owner = dict(rel_spec(target).properties), [], f"relationship {target.value}"
    present = set().union(*(row.keys() for row in rows)) - {"src", "dst"}
    check_properties(owner, props, present)
    names = lead + [name for name in props if name in present and name not in lead]
    columns: dict[str, pa.Array] = {}
    if isinstance(target, RelType):  # COPY takes the endpoints as the first two columns
        columns = {"from": _column("src", PropType.STRING, rows), "to": _column("dst", PropType.STRING, rows)}
    columns.update({name: _column(name, props[name], rows) for name in names})
    column_list = f"({', '.join(names)})" if names else ""
    store.query(f"COPY {target.value}{column_list} FROM $rows", {"rows": pa.table(columns)})
    return len(rows)
