"""Generated statements, asserted as text (values never appear in them, only $parameters)."""

from __future__ import annotations

from kg.schema import NodeLabel, RelType, node_spec, rel_spec
from kg.store import cypher_builder as cb


def test_upsert_nodes_neo4j() -> None:
    query = cb.upsert_nodes_query(node_spec(NodeLabel.PRODUCT), ["title", "id", "price"], "neo4j")
    assert query == (
        "UNWIND $rows AS row\n"
        "MERGE (n:Product {id: row.id})\n"
        "SET n.price = row.price, n.title = row.title\n"
        "RETURN count(n) AS written"
    )


def test_upsert_nodes_kuzu_casts_to_declared_types() -> None:
    query = cb.upsert_nodes_query(node_spec(NodeLabel.PRODUCT), ["id", "price", "active"], "kuzu")
    assert "SET n.active = CAST(row.active AS BOOLEAN), n.price = CAST(row.price AS DOUBLE)\n" in query


def test_upsert_nodes_with_only_the_key_has_no_set() -> None:
    assert cb.upsert_nodes_query(node_spec(NodeLabel.USER), ["id"], "kuzu") == (
        "UNWIND $rows AS row\nMERGE (n:User {id: row.id})\nRETURN count(n) AS written"
    )


def test_upsert_relationships() -> None:
    query = cb.upsert_relationships_query(rel_spec(RelType.PURCHASED), ["seq", "ts"], "neo4j")
    assert query == (
        "UNWIND $rows AS row\n"
        "MATCH (a:User {id: row.src})\n"
        "MATCH (b:Product {id: row.dst})\n"
        "MERGE (a)-[r:PURCHASED]->(b)\n"
        "SET r.seq = row.seq, r.ts = row.ts\n"
        "RETURN count(r) AS written"
    )


def test_deletes_and_counts() -> None:
    product = node_spec(NodeLabel.PRODUCT)
    assert cb.delete_nodes_query(product) == (
        "MATCH (n:Product)\nWHERE n.id IN $ids\nDETACH DELETE n\nRETURN count(*) AS deleted"
    )
    assert cb.set_active_query(product).endswith("SET n.active = $active\nRETURN count(n) AS changed")
    assert cb.count_relationships_query(rel_spec(RelType.MENTIONS)) == (
        "MATCH (:Product)-[r:MENTIONS]->(:Entity) RETURN count(r) AS count"
    )
