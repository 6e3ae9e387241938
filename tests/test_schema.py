"""The DDL files in cypher/schema agree with the allow-list in kg/schema.py, in both directions."""

from __future__ import annotations

import re

from kg.config import PROJECT_ROOT
from kg.queries import split_statements
from kg.schema import NODES, RELATIONSHIPS, NodeLabel, RelType

SCHEMA_DIR = PROJECT_ROOT / "cypher" / "schema"
_TABLE = re.compile(r"CREATE (NODE|REL) TABLE IF NOT EXISTS (\w+)\((.*)\)$", re.S)


def _kuzu_tables() -> dict[str, tuple[str, str]]:
    tables = {}
    for stmt in split_statements((SCHEMA_DIR / "kuzu.cypher").read_text()):
        match = _TABLE.match(stmt)
        assert match, f"unexpected statement in kuzu.cypher: {stmt}"
        tables[match.group(2)] = (match.group(1), match.group(3))
    return tables


def _columns(body: str) -> dict[str, str]:
    cols = {}
    for part in (p.strip() for p in body.split(",")):
        if part.startswith(("PRIMARY KEY", "FROM ")):
            continue
        name, type_ = part.split()
        cols[name] = type_
    return cols


def test_every_label_is_a_kuzu_node_table_with_the_same_properties() -> None:
    tables = _kuzu_tables()
    for label, spec in NODES.items():
        kind, body = tables[label.value]
        assert kind == "NODE"
        assert f"PRIMARY KEY({spec.key})" in body
        assert _columns(body) == {name: t.value for name, t in spec.properties.items()}


def test_every_relationship_type_is_a_kuzu_rel_table_with_its_endpoints() -> None:
    tables = _kuzu_tables()
    for rel_type, spec in RELATIONSHIPS.items():
        kind, body = tables[rel_type.value]
        assert kind == "REL"
        assert body.startswith(f"FROM {spec.source.value} TO {spec.target.value}")
        assert _columns(body) == {name: t.value for name, t in spec.properties.items()}


def test_kuzu_ddl_declares_nothing_outside_the_allow_list() -> None:
    allowed = {n.value for n in NodeLabel} | {r.value for r in RelType}
    assert set(_kuzu_tables()) == allowed


def test_neo4j_schema_has_a_unique_key_constraint_per_label_and_is_idempotent() -> None:
    statements = split_statements((SCHEMA_DIR / "neo4j.cypher").read_text())
    assert statements and all(" IF NOT EXISTS " in s for s in statements)
    for label in NodeLabel:
        assert any(f"FOR (n:{label.value}) REQUIRE n.id IS UNIQUE" in s for s in statements), label
    mentioned = set(re.findall(r"\(n:(\w+)\)|\[r:(\w+)\]", " ".join(statements)))
    names = {a or b for a, b in mentioned}
    assert names <= {n.value for n in NodeLabel} | {r.value for r in RelType}
