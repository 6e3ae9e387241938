"""Builds the store's generated statements (upserts, counts, deletes) from the schema allow-list.

Only identifiers from :mod:`kg.schema` are written into the text; every value is a ``$parameter``. Each
builder takes a :class:`Dialect` because the embedded engine infers the type of a parameter from its Python
value (a column of ``None`` arrives as STRING), so it needs explicit ``CAST``s that Neo4j does not.
"""

from __future__ import annotations

from collections.abc import Iterable

from kg.queries import Dialect
from kg.schema import NodeSpec, PropType, RelSpec


def _value(expr: str, prop_type: PropType, dialect: Dialect) -> str:
    return f"CAST({expr} AS {prop_type.value})" if dialect == "kuzu" else expr


def _set_clause(var: str, spec_props: dict[str, PropType], names: Iterable[str], dialect: Dialect) -> str:
    assignments = [f"{var}.{name} = {_value(f'row.{name}', spec_props[name], dialect)}" for name in sorted(names)]
    return f"\nSET {', '.join(assignments)}" if assignments else ""


def upsert_nodes_query(spec: NodeSpec, properties: Iterable[str], dialect: Dialect) -> str:
    """``MERGE`` nodes by key from ``$rows``, then ``SET`` the given properties (absent ones untouched)."""
    others = [p for p in properties if p != spec.key]
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{spec.label.value} {{{spec.key}: row.{spec.key}}})"
        f"{_set_clause('n', dict(spec.properties), others, dialect)}\n"
        "RETURN count(n) AS written"
    )


def existing_keys_query(spec: NodeSpec) -> str:
    """The keys of ``$keys`` that name a node: one index probe per key."""
    return f"UNWIND $keys AS key\nMATCH (n:{spec.label.value} {{{spec.key}: key}})\nRETURN n.{spec.key} AS key"


def create_nodes_query(spec: NodeSpec, properties: Iterable[str], dialect: Dialect) -> str:
    """``CREATE`` a node per row of ``$rows`` (keys known to be new), with the given properties."""
    others = [p for p in properties if p != spec.key]
    return (
        "UNWIND $rows AS row\n"
        f"CREATE (n:{spec.label.value} {{{spec.key}: row.{spec.key}}})"
        f"{_set_clause('n', dict(spec.properties), others, dialect)}\n"
        "RETURN count(n) AS written"
    )


def update_nodes_query(spec: NodeSpec, properties: Iterable[str], dialect: Dialect) -> str:
    """``SET`` the given properties on the existing node of each row of ``$rows`` (looked up by key)."""
    others = [p for p in properties if p != spec.key]
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (n:{spec.label.value} {{{spec.key}: row.{spec.key}}})"
        f"{_set_clause('n', dict(spec.properties), others, dialect)}\n"
        "RETURN count(n) AS written"
    )


def upsert_relationships_query(spec: RelSpec, properties: Iterable[str], dialect: Dialect) -> str:
    """``MERGE`` one edge per ``(row.src, row.dst)``; rows whose endpoints do not exist write nothing."""
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{spec.source.value} {{id: row.src}})\n"
        f"MATCH (b:{spec.target.value} {{id: row.dst}})\n"
        f"MERGE (a)-[r:{spec.type.value}]->(b)"
        f"{_set_clause('r', dict(spec.properties), properties, dialect)}\n"
        "RETURN count(r) AS written"
    )


def delete_relationships_query(spec: RelSpec) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{spec.source.value} {{id: row.src}})"
        f"-[r:{spec.type.value}]->(b:{spec.target.value} {{id: row.dst}})\n"
        "DELETE r\n"
        "RETURN count(*) AS deleted"
    )


def set_active_query(spec: NodeSpec) -> str:
    return (
        f"MATCH (n:{spec.label.value})\nWHERE n.{spec.key} IN $ids\nSET n.active = $active\nRETURN count(n) AS changed"
    )


def delete_nodes_query(spec: NodeSpec) -> str:
    return f"MATCH (n:{spec.label.value})\nWHERE n.{spec.key} IN $ids\nDETACH DELETE n\nRETURN count(*) AS deleted"


def count_nodes_query(spec: NodeSpec) -> str:
    return f"MATCH (n:{spec.label.value}) RETURN count(n) AS count"


def count_relationships_query(spec: RelSpec) -> str:
    return f"MATCH (:{spec.source.value})-[r:{spec.type.value}]->(:{spec.target.value}) RETURN count(r) AS count"


def export_nodes_query(spec: NodeSpec) -> str:
    """Every node of a label with all its properties, key first (the column order ``COPY`` expects)."""
    columns = [spec.key, *(name for name in spec.properties if name != spec.key)]
    return f"MATCH (n:{spec.label.value}) RETURN " + ", ".join(f"n.{c} AS {c}" for c in columns)


def export_relationships_query(spec: RelSpec) -> str:
    """Every edge of a type: source id, target id, then its properties (the column order ``COPY`` expects)."""
    props = "".join(f", r.{name} AS {name}" for name in spec.properties)
    return (f"MATCH (a:{spec.source.value})-[r:{spec.type.value}]->(b:{spec.target.value}) "
            f"RETURN a.id AS src, b.id AS dst{props}")
