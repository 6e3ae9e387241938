"""The one store test module: every test runs against every backend (embedded Kuzu; Neo4j in Docker).

A backend passes only if it behaves exactly like the others; no backend has tests of its own here.
"""

from __future__ import annotations

from typing import Any

import pytest

from kg.errors import CartographError, NamedQueryNotFoundError, QueryError, SchemaError, ValidationError
from kg.schema import NodeLabel, RelType
from kg.store import GraphStore

PRODUCTS = [
    {"id": "p1", "title": "Sedu ionic ceramic flat iron", "price": 59.5, "active": True},
    {"id": "p2", "title": "HP 74 black ink cartridge", "price": 19.99, "active": True},
    {"id": "p3", "title": "Avery CD labels", "price": None, "active": True},
]
INJECTION_TITLES = [
    "x'}) MATCH (n) DETACH DELETE n //",
    'Robert"); MATCH (n) DETACH DELETE n; //',
    "$rows} ]-> (:User) CALL db.clear() RETURN 1 //",
    "`Product` ` \\' \\\" ; DROP TABLE Product;",
]


def product(store: GraphStore, product_id: str) -> dict[str, Any]:
    rows = store.query(
        "MATCH (p:Product {id: $id}) RETURN p.title AS title, p.price AS price, p.active AS active, "
        "p.description AS description",
        {"id": product_id},
    )
    assert len(rows) == 1, rows
    return rows[0]


def seed(store: GraphStore) -> None:
    store.upsert_nodes(NodeLabel.PRODUCT, PRODUCTS)
    store.upsert_nodes(NodeLabel.USER, [{"id": "u1"}, {"id": "u2"}])
    store.upsert_nodes(NodeLabel.BRAND, [{"id": "hp", "name": "HP"}, {"id": "sedu", "name": "Sedu"}])
    store.upsert_nodes(NodeLabel.CATEGORY, [{"id": "c1", "name": "Ink"}])
    store.upsert_relationships(RelType.MADE_BY, [{"src": "p2", "dst": "hp"}, {"src": "p1", "dst": "sedu"}])
    store.upsert_relationships(RelType.IN_CATEGORY, [{"src": "p2", "dst": "c1"}])
    store.upsert_relationships(
        RelType.PURCHASED,
        [{"src": "u1", "dst": "p2", "seq": 1, "ts": None}, {"src": "u1", "dst": "p1", "seq": 0, "ts": None}],
    )
    store.upsert_relationships(RelType.ALSO_BOUGHT, [{"src": "p1", "dst": "p2"}])


# -- schema ------------------------------------------------------------------------------------------------
def test_init_schema_is_idempotent_and_starts_empty(store: GraphStore) -> None:
    assert store.init_schema() > 0  # the fixture ran it once already
    assert set(store.count_nodes().values()) == {0}
    assert set(store.count_relationships().values()) == {0}
    assert set(store.count_nodes()) == {label.value for label in NodeLabel}
    assert set(store.count_relationships()) == {t.value for t in RelType}


# -- node upserts ----------------------------------------------------------------------------------------
def test_node_upsert_is_idempotent_by_counts_and_content(store: GraphStore) -> None:
    first = store.upsert_nodes(NodeLabel.PRODUCT, PRODUCTS)
    before = {p["id"]: product(store, p["id"]) for p in PRODUCTS}
    second = store.upsert_nodes(NodeLabel.PRODUCT, PRODUCTS)
    assert first.requested == first.written == second.written == 3
    assert store.count_nodes()["Product"] == 3
    assert {p["id"]: product(store, p["id"]) for p in PRODUCTS} == before
    assert before["p1"] == {"title": PRODUCTS[0]["title"], "price": 59.5, "active": True, "description": None}


def test_node_update_changes_given_properties_only(store: GraphStore) -> None:
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "p1", "title": "old", "price": 10.0, "description": "d"}])
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "p1", "title": "new"}])
    assert product(store, "p1") == {"title": "new", "price": 10.0, "active": None, "description": "d"}
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "p1", "description": None}])  # explicit None clears
    assert product(store, "p1")["description"] is None
    assert store.count_nodes()["Product"] == 1


def test_rows_with_different_property_sets_in_one_batch(store: GraphStore) -> None:
    rows = [{"id": "a", "title": "A"}, {"id": "b", "price": 2.0}, {"id": "c", "title": "C", "price": 3.0}]
    assert store.upsert_nodes(NodeLabel.PRODUCT, rows).written == 3
    assert product(store, "b") == {"title": None, "price": 2.0, "active": None, "description": None}


def test_batching_writes_everything_and_reports_progress(store_factory) -> None:  # type: ignore[no-untyped-def]
    store = store_factory(batch_size=2)
    seen: list[int] = []
    rows = [{"id": f"p{i}", "title": f"t{i}"} for i in range(5)]
    result = store.upsert_nodes(NodeLabel.PRODUCT, iter(rows), on_batch=seen.append)
    assert (result.requested, result.written) == (5, 5)
    assert seen == [2, 2, 1]
    assert store.count_nodes()["Product"] == 5


def test_unicode_text_round_trips(store: GraphStore) -> None:
    title = "Crème brûlée ✓ 日本語 — 20% off \u200b emoji 💄"
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "ü-1", "title": title}])
    assert product(store, "ü-1")["title"] == title


# -- relationships ---------------------------------------------------------------------------------------
def test_relationship_upsert_is_idempotent_and_updates_properties(store: GraphStore) -> None:
    seed(store)
    again = store.upsert_relationships(RelType.PURCHASED, [{"src": "u1", "dst": "p2", "seq": 5, "count": 2}])
    assert again.written == 1
    assert store.count_relationships()["PURCHASED"] == 2
    rows = store.query(
        "MATCH (:User {id: $u})-[r:PURCHASED]->(:Product {id: $p}) RETURN r.seq AS seq, r.count AS count",
        {"u": "u1", "p": "p2"},
    )
    assert rows == [{"seq": 5, "count": 2}]


def test_relationship_to_missing_node_is_counted_not_created(store: GraphStore) -> None:
    seed(store)
    result = store.upsert_relationships(
        RelType.PURCHASED, [{"src": "u2", "dst": "p3"}, {"src": "u2", "dst": "nope"}, {"src": "ghost", "dst": "p1"}]
    )
    assert (result.requested, result.written, result.missing_endpoints) == (3, 1, 2)
    assert store.count_nodes()["Product"] == 3 and store.count_nodes()["User"] == 2


def test_delete_relationships(store: GraphStore) -> None:
    seed(store)
    assert store.delete_relationships(RelType.PURCHASED, [("u1", "p1"), ("u2", "p1")]) == 1
    assert store.count_relationships()["PURCHASED"] == 1


# -- counts, deactivate, delete --------------------------------------------------------------------------
def test_counts_per_label_and_type(store: GraphStore) -> None:
    seed(store)
    nodes, rels = store.count_nodes(), store.count_relationships()
    assert nodes == {"Product": 3, "User": 2, "Brand": 2, "Category": 1, "Entity": 0}
    assert {k: v for k, v in rels.items() if v} == {"MADE_BY": 2, "IN_CATEGORY": 1, "PURCHASED": 2, "ALSO_BOUGHT": 1}


def test_deactivate_keeps_node_and_edges(store: GraphStore) -> None:
    seed(store)
    assert store.deactivate(NodeLabel.PRODUCT, ["p2", "missing"]) == 1
    assert product(store, "p2")["active"] is False
    assert store.count_relationships()["MADE_BY"] == 2
    assert store.run_named("products_by_brand", {"brand_id": "hp", "limit": 10}) == []
    assert store.set_active(NodeLabel.PRODUCT, ["p2"], True) == 1
    assert store.run_named("products_by_brand", {"brand_id": "hp", "limit": 10})[0]["id"] == "p2"


def test_delete_nodes_removes_their_edges(store: GraphStore) -> None:
    seed(store)
    assert store.delete_nodes(NodeLabel.PRODUCT, ["p2"]) == 1
    assert store.count_nodes()["Product"] == 2
    rels = store.count_relationships()
    assert (rels["MADE_BY"], rels["IN_CATEGORY"], rels["PURCHASED"], rels["ALSO_BOUGHT"]) == (1, 0, 1, 0)


# -- named queries ---------------------------------------------------------------------------------------
def test_named_queries_return_the_same_rows(store: GraphStore) -> None:
    seed(store)
    assert store.run_named("product_by_id", {"id": "p2"}) == [
        {
            "id": "p2",
            "title": "HP 74 black ink cartridge",
            "price": 19.99,
            "active": True,
            "brand": "HP",
            "categories": ["Ink"],
        }
    ]
    assert store.run_named("product_by_id", {"id": "p3"})[0]["categories"] == []
    history = store.run_named("user_interactions", {"user_id": "u1", "limit": 10})
    assert [(r["product_id"], r["kind"], r["seq"]) for r in history] == [("p1", "PURCHASED", 0), ("p2", "PURCHASED", 1)]
    assert store.run_named("co_purchased", {"id": "p2", "limit": 5}) == [{"id": "p1", "title": PRODUCTS[0]["title"]}]


def test_named_query_parameters_are_checked(store: GraphStore) -> None:
    with pytest.raises(QueryError, match="missing \\['limit'\\]"):
        store.run_named("user_interactions", {"user_id": "u1"})
    with pytest.raises(QueryError, match="unexpected \\['extra'\\]"):
        store.run_named("product_by_id", {"id": "p1", "extra": 1})


@pytest.mark.parametrize("name", ["no_such_query", "../schema/kuzu", "product_by_id.cypher", "A/B"])
def test_unknown_or_unsafe_query_names_are_refused(store: GraphStore, name: str) -> None:
    with pytest.raises(NamedQueryNotFoundError):
        store.run_named(name, {})


# -- injection and bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("title", INJECTION_TITLES)
def test_injection_like_text_is_stored_verbatim_and_harms_nothing(store: GraphStore, title: str) -> None:
    seed(store)
    before = (store.count_nodes(), store.count_relationships())
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": title, "title": title, "description": title}])
    store.upsert_relationships(RelType.PURCHASED, [{"src": "u2", "dst": title}])
    assert product(store, title)["title"] == title
    assert store.run_named("product_by_id", {"id": title})[0]["title"] == title
    nodes, rels = store.count_nodes(), store.count_relationships()
    assert nodes == {**before[0], "Product": before[0]["Product"] + 1}
    assert rels == {**before[1], "PURCHASED": before[1]["PURCHASED"] + 1}
    assert store.delete_nodes(NodeLabel.PRODUCT, [title]) == 1
    assert (store.count_nodes(), store.count_relationships()) == before


@pytest.mark.parametrize(
    ("label", "rows", "error", "message"),
    [
        ("Prodcut", [{"id": "x"}], SchemaError, "unknown node label 'Prodcut'"),
        ("Product", [{"id": "x", "colour": "red"}], SchemaError, "no property \\['colour'\\]"),
        ("Product", [{"title": "no id"}], ValidationError, "needs 'id'"),
        ("Product", [{"id": ""}], ValidationError, "non-empty string"),
        ("Product", [{"id": 7}], ValidationError, "non-empty string"),
        ("Product", [{"id": "x", "price": "cheap"}], ValidationError, "'price' must be DOUBLE"),
        ("Product", [{"id": "x", "price": float("nan")}], ValidationError, "'price' must be DOUBLE"),
        ("Product", [{"id": "x", "active": 1}], ValidationError, "'active' must be BOOLEAN"),
    ],
)
def test_bad_node_rows_are_refused_before_writing(
    store: GraphStore, label: str, rows: list[dict[str, Any]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        store.upsert_nodes(label, rows)
    assert issubclass(error, CartographError)
    assert store.count_nodes()["Product"] == 0


def test_bad_relationship_rows_are_refused(store: GraphStore) -> None:
    with pytest.raises(SchemaError, match="unknown relationship type 'LIKES'"):
        store.upsert_relationships("LIKES", [{"src": "a", "dst": "b"}])
    with pytest.raises(SchemaError, match="no property"):
        store.upsert_relationships(RelType.MADE_BY, [{"src": "a", "dst": "b", "score": 1.0}])
    with pytest.raises(ValidationError, match="'seq' must be INT64"):
        store.upsert_relationships(RelType.PURCHASED, [{"src": "a", "dst": "b", "seq": 1.5}])


def test_invalid_cypher_raises_query_error(store: GraphStore) -> None:
    with pytest.raises(QueryError, match="rejected"):
        store.query("MATCH (n:Product RETURN n")


def test_deactivate_requires_an_active_property(store: GraphStore) -> None:
    with pytest.raises(SchemaError, match="no 'active'"):
        store.deactivate(NodeLabel.BRAND, ["hp"])
