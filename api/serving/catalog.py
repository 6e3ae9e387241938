"""The catalog as arrays: what the API filters, explains and searches on, held in memory.

Built at startup (and on reload) from a :class:`gnn.data.GraphSnapshot` of the graph store plus product
prices, so the hot path never queries the store. When the store cannot be read at startup, a reduced catalog
comes from the bundle alone (ids, and the brand / category / entity / interaction edges of a GNN bundle's
train graph; no titles, no prices) and ``/ready`` reports the store as degraded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnn.bundle import Bundle
from gnn.data import GraphSnapshot
from kg.store import GraphStore

#: Node types a product links to, with the snapshot's item relation that links them.
ATTRIBUTE_RELATIONS: dict[str, str] = {"brand": "made_by", "category": "in_category", "entity": "mentions"}
#: Product-product link relations, with the graph relationship type they come from.
LINK_RELATIONS: dict[str, str] = {
    "also_bought": "ALSO_BOUGHT", "also_viewed": "ALSO_VIEWED", "bought_together": "BOUGHT_TOGETHER",
}
#: Interaction kinds in snapshot order (``GraphSnapshot.inter_kind``).
INTERACTION_KINDS: tuple[str, ...] = ("PURCHASED", "VIEWED", "RATED")


@dataclass(frozen=True)
class Csr:
    """Rows of integer lists in two arrays (row ``i`` is ``idx[ptr[i]:ptr[i+1]]``)."""

    ptr: np.ndarray
    idx: np.ndarray

    @classmethod
    def from_pairs(cls, rows: np.ndarray, cols: np.ndarray, num_rows: int, *, keep_order: bool = False) -> Csr:
        """Group ``cols`` by ``rows``; sorted by column unless ``keep_order`` (stable, input order kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        order = np.argsort(rows, kind="stable") if keep_order else np.lexsort((cols, rows))
        ptr = np.searchsorted(rows[order], np.arange(num_rows + 1)).astype(np.int64)
        return cls(ptr, cols[order])

    def row(self, i: int) -> np.ndarray:
        return self.idx[self.ptr[i]:self.ptr[i + 1]]

    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)


@dataclass
class Catalog:
    """Products, their attributes and links, users and their history, as arrays aligned with ``product_ids``.

    Attributes:
        attributes: node type (brand, category, entity) -> product -> attribute indexes.
        members: node type -> attribute index -> product indexes (the reverse of ``attributes``).
        links: link relation (also_bought...) -> product -> linked products (both directions).
        history: user -> product indexes in interaction order (oldest first); ``history_kind`` aligned.
        popularity: interactions per product (what cold-start users get, within their filters).
        source: ``"store"`` or ``"bundle"`` (the degraded fallback).
    """

    product_ids: list[str]
    titles: list[str]
    texts: list[str]
    active: np.ndarray
    price: np.ndarray
    node_ids: dict[str, list[str]]
    node_names: dict[str, list[str]]
    attributes: dict[str, Csr]
    members: dict[str, Csr]
    links: dict[str, Csr]
    user_ids: list[str]
    history: Csr
    history_kind: np.ndarray
    popularity: np.ndarray
    source: str
    snapshot_id: str = ""
    product_index: dict[str, int] = field(init=False)
    user_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.product_index = {pid: i for i, pid in enumerate(self.product_ids)}
        self.user_index = {uid: i for i, uid in enumerate(self.user_ids)}

    @property
    def num_products(self) -> int:
        return len(self.product_ids)

    def display_name(self, node_type: str, i: int) -> str:
        return self.node_names[node_type][i] or self.node_ids[node_type][i]

    def user_history(self, user_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(product indexes oldest first, interaction kind index) of a user; empty for unknown users."""
        u = self.user_index.get(user_id)
        if u is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
        lo, hi = self.history.ptr[u], self.history.ptr[u + 1]
        return self.history.idx[lo:hi], self.history_kind[lo:hi]


def _attributes(edges: dict[str, np.ndarray], num_products: int, node_ids: dict[str, list[str]]
                ) -> tuple[dict[str, Csr], dict[str, Csr]]:
    attributes, members = {}, {}
    for node_type, rel in ATTRIBUTE_RELATIONS.items():
        e = edges.get(rel, np.zeros((2, 0), dtype=np.int64))
        attributes[node_type] = Csr.from_pairs(e[0], e[1], num_products)
        members[node_type] = Csr.from_pairs(e[1], e[0], len(node_ids.get(node_type, [])))
    return attributes, members


def _links(edges: dict[str, np.ndarray], num_products: int) -> dict[str, Csr]:
    links = {}
    for rel in LINK_RELATIONS:
        e = edges.get(rel, np.zeros((2, 0), dtype=np.int64))
        both = np.unique(np.concatenate([e, e[::-1]], axis=1), axis=1) if e.shape[1] else e
        links[rel] = Csr.from_pairs(both[0], both[1], num_products)
    return links


def read_prices(store: GraphStore) -> dict[str, float]:
    """Product id -> price, for products that have one (the snapshot does not carry prices)."""
    rows = store.query("MATCH (p:Product) WHERE p.price IS NOT NULL RETURN p.id AS id, p.price AS price")
    return {r["id"]: float(r["price"]) for r in rows}


def catalog_from_snapshot(snapshot: GraphSnapshot, prices: dict[str, float]) -> Catalog:
    """The full catalog from a snapshot of the graph store."""
    ids = snapshot.ids
    n = snapshot.num_products
    attributes, members = _attributes(snapshot.item_edges, n, ids)
    # Each user's history in interaction order (ts, then seq), as the split orders it.
    order = snapshot.interaction_order()
    users, products = snapshot.inter_user[order], snapshot.inter_product[order]
    history = Csr.from_pairs(users, products, snapshot.num_users, keep_order=True)
    popularity = np.bincount(snapshot.inter_product, weights=snapshot.inter_count, minlength=n).astype(np.float32)
    return Catalog(
        product_ids=list(ids["product"]), titles=list(snapshot.titles), texts=snapshot.product_texts(),
        active=snapshot.active.astype(bool), price=np.array([prices.get(p, np.nan) for p in ids["product"]],
                                                            dtype=np.float64),
        node_ids={t: list(ids[t]) for t in ATTRIBUTE_RELATIONS},
        node_names={t: list(snapshot.names.get(t, [])) or [""] * len(ids[t]) for t in ATTRIBUTE_RELATIONS},
        attributes=attributes, members=members, links=_links(snapshot.item_edges, n),
        user_ids=list(ids["user"]), history=history, history_kind=snapshot.inter_kind[order].astype(np.int8),
        popularity=popularity, source="store", snapshot_id=snapshot.snapshot_id,
    )


def catalog_from_bundle(bundle: Bundle) -> Catalog:
    """A reduced catalog from the bundle alone (the store is down): ids, and the train graph's edges if any."""
    ids = {t: list(v) for t, v in bundle.id_maps.items()}
    products = ids.get("product", [])
    n = len(products)
    graph_edges: dict[str, Any] = (bundle.graph or {}).get("edges", {})
    edges: dict[str, np.ndarray] = {}
    for key, ei in graph_edges.items():
        src, rel, _dst = key.split("__")
        if src == "product":
            edges[rel] = ei.numpy()
    inter = graph_edges.get("user__interacts__product")
    inter_np = inter.numpy() if inter is not None else np.zeros((2, 0), dtype=np.int64)
    for t in ATTRIBUTE_RELATIONS:
        ids.setdefault(t, [])
    attributes, members = _attributes(edges, n, ids)
    return Catalog(
        product_ids=products, titles=[""] * n, texts=[""] * n, active=np.ones(n, dtype=bool),
        price=np.full(n, np.nan), node_ids={t: ids[t] for t in ATTRIBUTE_RELATIONS},
        node_names={t: [""] * len(ids[t]) for t in ATTRIBUTE_RELATIONS}, attributes=attributes,
        members=members, links=_links(edges, n), user_ids=ids.get("user", []),
        history=Csr.from_pairs(inter_np[0], inter_np[1], len(ids.get("user", []))),
        history_kind=np.zeros(inter_np.shape[1], dtype=np.int8),
        popularity=np.bincount(inter_np[1], minlength=n).astype(np.float32), source="bundle",
        snapshot_id=bundle.snapshot_id,
    )
