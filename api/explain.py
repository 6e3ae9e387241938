"""Explanations: the best graph paths (at most 3 hops) from a user to a product, read from the graph store.

Four named queries (``cypher/queries/explain/*.cypher``), one per kind of path:

- ``direct``         (u)-[interaction]->(p)                                   1 hop
- ``links``          (u)-[interaction]->(q)-[co-purchase / co-view]-(p)      2 hops
- ``attributes``     (u)-[interaction]->(q)-[r]->(brand|category|entity)<-[r]-(p)  3 hops
- ``collaborative``  (u)-[interaction]->(q)<-[interaction]-(v:User)-[interaction]->(p)  3 hops, the other
  users ``v`` as one group node with their count: an explanation never names another shopper

Paths are scored so that the most telling come first: a direct interaction, then a co-purchase link, then a
shared node weighted by how specific it is (a brand of 12 products says more than the category "Beauty"),
then other users' behaviour weighted by how many users support it. Each path comes with the Cypher (text and
parameters) that shows exactly that path in Neo4j Browser; labels and relationship types in that text come
from the schema allow-list, every value is a parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from api.serving.index import ServingIndex
from kg.schema import node_spec, rel_spec
from kg.store import GraphStore

QUERIES = ("direct", "links", "attributes", "collaborative")
#: The label of the group node that stands for the other shoppers of a collaborative path.
SHOPPERS = "Shoppers"
_VERB = {"PURCHASED": "bought", "VIEWED": "viewed", "RATED": "rated"}
_ATTR_TYPE = {"Brand": "brand", "Category": "category", "Entity": "entity"}


@dataclass
class Path:
    kind: str
    score: float
    summary: str
    nodes: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    cypher: str
    params: dict[str, Any]


def _label(value: str) -> str:
    return node_spec(value).label.value  # raises SchemaError for anything off the allow-list


def _rel(value: str) -> str:
    return rel_spec(value).type.value


class _Builder:
    """Node and relationship lists of one path, keyed ``Label:id`` so the client can draw it."""

    def __init__(self, index: ServingIndex) -> None:
        self.index = index
        self.nodes: list[dict[str, Any]] = []
        self.relationships: list[dict[str, Any]] = []

    def node(self, label: str, node_id: str) -> str:
        key = f"{label}:{node_id}"
        self.nodes.append({"key": key, "label": label, "id": node_id, "name": self.name(label, node_id)})
        return key

    def group(self, label: str, name: str, count: int) -> str:
        """A node standing for ``count`` nodes that are not named (other shoppers): no id, only the count."""
        self.nodes.append({"key": label, "label": label, "id": None, "name": name, "count": count})
        return label

    def rel(self, rel_type: str, source: str, target: str) -> None:
        self.relationships.append({"type": rel_type, "source": source, "target": target})

    def name(self, label: str, node_id: str) -> str:
        c = self.index.catalog
        if label == "Product":
            i = c.product_index.get(node_id)
            return (c.titles[i] or node_id) if i is not None else node_id
        node_type = _ATTR_TYPE.get(label)
        if node_type:
            try:
                return c.display_name(node_type, c.node_ids[node_type].index(node_id))
            except ValueError:
                return node_id
        return node_id


def _specificity(index: ServingIndex, label: str, node_id: str) -> float:
    """In [0, 1]: 1 for a node of one product, near 0 for a node every product has."""
    c = index.catalog
    node_type = _ATTR_TYPE[label]
    try:
        degree = len(c.members[node_type].row(c.node_ids[node_type].index(node_id)))
    except ValueError:
        return 0.0
    return math.log1p(c.num_products / max(degree, 1)) / math.log1p(c.num_products)


def explain(index: ServingIndex, store: GraphStore, user_id: str, product_id: str, limit: int) -> list[Path]:
    """The best ``limit`` paths between the user and the product (may be empty: no path within 3 hops)."""
    base = {"user_id": user_id, "product_id": product_id}
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in QUERIES:
        query = store.named_query(f"explain/{name}")
        params = {**base, "limit": limit} if "limit" in query.parameters else dict(base)
        rows[name] = store.run_named(f"explain/{name}", params)
    paths = [_direct(index, user_id, product_id, r) for r in rows["direct"]]
    paths += [_link(index, user_id, product_id, r) for r in rows["links"]]
    paths += [_attribute(index, user_id, product_id, r) for r in rows["attributes"]]
    paths += [_collaborative(index, user_id, product_id, r) for r in rows["collaborative"]]
    paths.sort(key=lambda p: -p.score)
    return paths[:limit]


def _direct(index: ServingIndex, user_id: str, product_id: str, row: dict[str, Any]) -> Path:
    rel1 = _rel(row["rel1"])
    b = _Builder(index)
    u, p = b.node("User", user_id), b.node("Product", product_id)
    b.rel(rel1, u, p)
    cypher = f"MATCH path = (u:User {{id: $user_id}})-[:{rel1}]->(p:Product {{id: $product_id}}) RETURN path"
    return Path("direct", 1.0, f"you {_VERB[rel1]} it", b.nodes, b.relationships, cypher,
                {"user_id": user_id, "product_id": product_id})


def _link(index: ServingIndex, user_id: str, product_id: str, row: dict[str, Any]) -> Path:
    rel1, rel2 = _rel(row["rel1"]), _rel(row["rel2"])
    b = _Builder(index)
    u, q, p = b.node("User", user_id), b.node("Product", row["q_id"]), b.node("Product", product_id)
    b.rel(rel1, u, q)
    b.rel(rel2, q, p)
    cypher = (f"MATCH path = (u:User {{id: $user_id}})-[:{rel1}]->(q:Product {{id: $via_id}})-[:{rel2}]-"
              f"(p:Product {{id: $product_id}}) RETURN path")
    summary = f"you {_VERB[rel1]} “{b.name('Product', row['q_id'])}”, linked to it by {rel2}"
    return Path("link", 0.8, summary, b.nodes, b.relationships, cypher,
                {"user_id": user_id, "via_id": row["q_id"], "product_id": product_id})


def _attribute(index: ServingIndex, user_id: str, product_id: str, row: dict[str, Any]) -> Path:
    rel1, rel2, label = _rel(row["rel1"]), _rel(row["rel2"]), _label(row["x_label"])
    b = _Builder(index)
    u, q = b.node("User", user_id), b.node("Product", row["q_id"])
    x, p = b.node(label, row["x_id"]), b.node("Product", product_id)
    b.rel(rel1, u, q)
    b.rel(rel2, q, x)
    b.rel(rel2, p, x)
    support = int(row["support"])
    # Informativeness first (normalised IDF over products: a rare entity before a colour half the catalog
    # shares); how many of the user's items share it only breaks near-ties. Stays below a link's 0.8.
    score = 0.2 + 0.5 * _specificity(index, label, row["x_id"]) + 0.05 * min(support, 4) / 4
    cypher = (f"MATCH path = (u:User {{id: $user_id}})-[:{rel1}]->(q:Product {{id: $via_id}})-[:{rel2}]->"
              f"(x:{label} {{id: $node_id}})<-[:{rel2}]-(p:Product {{id: $product_id}}) RETURN path")
    items = f"{support} of your items" if support > 1 else f"“{b.name('Product', row['q_id'])}”"
    summary = f"shares {label.lower()} {b.name(label, row['x_id'])} with {items}"
    return Path("attribute", score, summary, b.nodes, b.relationships, cypher,
                {"user_id": user_id, "via_id": row["q_id"], "node_id": row["x_id"], "product_id": product_id})


def _collaborative(index: ServingIndex, user_id: str, product_id: str, row: dict[str, Any]) -> Path:
    rel1, rel2, rel3 = _rel(row["rel1"]), _rel(row["rel2"]), _rel(row["rel3"])
    b = _Builder(index)
    u, q = b.node("User", user_id), b.node("Product", row["q_id"])
    support = int(row["support"])
    shoppers = f"{support} shopper{'s' if support > 1 else ''}"
    v = b.group(SHOPPERS, shoppers, support)
    p = b.node("Product", product_id)
    b.rel(rel1, u, q)
    b.rel(rel2, v, q)
    b.rel(rel3, v, p)
    score = 0.1 + 0.4 * min(1.0, math.log1p(support) / math.log1p(20))
    # The Cypher counts the other shoppers as the named query does (any interaction); it does not list them
    # (an analyst with the graph can, the API's caller cannot).
    any_interaction = "|".join(_VERB)
    cypher = (f"MATCH (u:User {{id: $user_id}})-[:{rel1}]->(q:Product {{id: $via_id}})<-[:{any_interaction}]-"
              f"(v:User)-[:{any_interaction}]->(p:Product {{id: $product_id}}) WHERE v.id <> u.id "
              f"RETURN q.id AS via_id, p.id AS product_id, count(DISTINCT v) AS shoppers")
    summary = f"{_VERB[rel3]} by {shoppers} who also {_VERB[rel2]} “{b.name('Product', row['q_id'])}”, as you did"
    return Path("collaborative", score, summary, b.nodes, b.relationships, cypher,
                {"user_id": user_id, "via_id": row["q_id"], "product_id": product_id})
