"""Graph snapshot -> arrays -> a leak-free split -> :class:`torch_geometric.data.HeteroData`.

Three steps, each deterministic:

1. :func:`snapshot_from_store` reads the graph with portable Cypher (one statement per label and per
   relationship type, scalar columns only, ordered by id) into numpy arrays and id maps (sorted ids ->
   contiguous indexes). The snapshot id is a hash of that content, so two reads of an unchanged graph give
   the same id and any change gives a new one.
2. :func:`split_snapshot` makes the evaluation split: leave-one-out by order per user (order by ``ts``, then
   ``seq``): the last interaction is test, the one before it valid, the rest train; users with fewer than 3
   interactions are train only. A seeded fraction of products is withheld entirely (the *cold* slice): none
   of their interactions is used for training or message passing; they are known only by their text and
   their brand / category / entity / co-purchase edges, and their interactions are evaluated separately.
3. :func:`to_hetero_data` builds the message-passing graph: node types ``user``, ``product``, ``brand``,
   ``category``, ``entity`` (empty types skipped), reverse edges, and only *train* interactions as
   user-product edges. Held-out interactions never enter it, in training or in evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch_geometric.data import HeteroData

from kg.progress import Step, step
from kg.schema import NodeLabel, RelType
from kg.store.base import GraphStore

#: Interaction relationship types, in code order (``GraphSnapshot.inter_kind`` holds the index).
INTERACTION_TYPES: tuple[RelType, ...] = (RelType.PURCHASED, RelType.VIEWED, RelType.RATED)
#: Product-side relationship types read into the snapshot: name -> (type, target node type).
ITEM_RELATIONS: dict[str, tuple[RelType, str]] = {
    "made_by": (RelType.MADE_BY, "brand"),
    "in_category": (RelType.IN_CATEGORY, "category"),
    "mentions": (RelType.MENTIONS, "entity"),
    "also_bought": (RelType.ALSO_BOUGHT, "product"),
    "also_viewed": (RelType.ALSO_VIEWED, "product"),
    "bought_together": (RelType.BOUGHT_TOGETHER, "product"),
}
#: Product-product lists that sellers publish (and crawls record) as aggregates: whether they are
#: time-consistent with a split depends on when they were taken (``TrainConfig.copurchase``).
COPURCHASE_RELATIONS: frozenset[str] = frozenset({"also_bought", "also_viewed", "bought_together"})
NODE_TYPES: tuple[str, ...] = ("user", "product", "brand", "category", "entity")
_LABELS: dict[str, NodeLabel] = {
    "user": NodeLabel.USER,
    "product": NodeLabel.PRODUCT,
    "brand": NodeLabel.BRAND,
    "category": NodeLabel.CATEGORY,
    "entity": NodeLabel.ENTITY,
}
#: What a model ranks for: the valid item, the test item, or serving (after everything known).
Phase = Literal["valid", "test", "serve"]
#: The user -> product message-passing edge type and its reverse.
INTERACTS = ("user", "interacts", "product")
REV_INTERACTS = ("product", "rev_interacts", "user")


@dataclass
class GraphSnapshot:
    """A consistent, read-only copy of the graph as arrays.

    Attributes:
        ids: node type -> sorted list of ids; the position in the list is the node's index.
        names: node type -> names (``""`` where absent), aligned with ``ids`` (brand, category, entity).
        titles, descriptions, text_hashes: per product, aligned with ``ids["product"]``.
        active: per product, ``False`` for deactivated products (never recommended).
        inter_user, inter_product: ``[E]`` int64, one row per distinct (user, product) pair.
        inter_ts, inter_seq: ``[E]`` int64 order keys (``0`` where absent); first occurrence of the pair.
        inter_count: ``[E]`` int64, number of interaction edges (over types) joining the pair.
        inter_kind: ``[E]`` int8, index into :data:`INTERACTION_TYPES` of the first occurrence.
        item_edges: name (see :data:`ITEM_RELATIONS`) -> ``[2, E]`` int64 (product index, target index).
        snapshot_id: hex digest of all of the above.
    """

    ids: dict[str, list[str]]
    names: dict[str, list[str]]
    titles: list[str]
    descriptions: list[str]
    text_hashes: list[str]
    active: np.ndarray
    inter_user: np.ndarray
    inter_product: np.ndarray
    inter_ts: np.ndarray
    inter_seq: np.ndarray
    inter_count: np.ndarray
    inter_kind: np.ndarray
    item_edges: dict[str, np.ndarray]
    snapshot_id: str = ""

    def num_nodes(self, node_type: str) -> int:
        return len(self.ids[node_type])

    @property
    def num_users(self) -> int:
        return self.num_nodes("user")

    @property
    def num_products(self) -> int:
        return self.num_nodes("product")

    def index(self, node_type: str) -> dict[str, int]:
        """id -> index for one node type."""
        return {node_id: i for i, node_id in enumerate(self.ids[node_type])}

    def interaction_order(self) -> np.ndarray:
        """``[E]`` indexes of the interactions grouped by user, each user's oldest first (ts, then seq): the
        order the split and the serving catalog read histories in."""
        return np.lexsort((self.inter_product, self.inter_seq, self.inter_ts, self.inter_user))

    def product_texts(self) -> list[str]:
        """The text embedded for each product: the title, then the description (may be empty)."""
        return [_join_text(t, d) for t, d in zip(self.titles, self.descriptions, strict=True)]

    def entity_texts(self) -> list[str]:
        return [name or node_id for name, node_id in zip(self.names["entity"], self.ids["entity"], strict=True)]

    def compute_id(self) -> str:
        h = hashlib.sha256()
        for node_type in NODE_TYPES:
            _hash_strings(h, node_type, self.ids[node_type])
            _hash_strings(h, node_type + ".names", self.names.get(node_type, []))
        for name, values in (("titles", self.titles), ("descriptions", self.descriptions),
                             ("text_hashes", self.text_hashes)):
            _hash_strings(h, name, values)
        for name, arr in (
            ("active", self.active), ("inter_user", self.inter_user), ("inter_product", self.inter_product),
            ("inter_ts", self.inter_ts), ("inter_seq", self.inter_seq), ("inter_count", self.inter_count),
            ("inter_kind", self.inter_kind),
        ):
            _hash_array(h, name, arr)
        for name in sorted(self.item_edges):
            _hash_array(h, name, self.item_edges[name])
        return h.hexdigest()[:16]


def _join_text(title: str, description: str) -> str:
    title, description = title.strip(), description.strip()
    if title and description:
        return f"{title}. {description}"
    return title or description


def _hash_strings(h: Any, name: str, values: Sequence[str]) -> None:
    h.update(f"{name}:{len(values)}\n".encode())
    for v in values:
        h.update(v.encode("utf-8"))
        h.update(b"\x00")


def _hash_array(h: Any, name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{name}:{arr.dtype.str}:{arr.shape}\n".encode())
    h.update(arr.tobytes())


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def snapshot_from_store(store: GraphStore, *, progress: bool | None = False) -> GraphSnapshot:
    """Read the whole recommendation graph from ``store`` (any backend) into a :class:`GraphSnapshot`.

    Every statement is portable Cypher: labels and types come from the schema allow-list, one statement per
    relationship type (so no dialect-specific ``type(r)``/``label(r)``), scalar columns, ``ORDER BY`` id.
    Edges whose endpoints are missing from the node lists cannot occur (the store keeps them consistent).
    ``progress``: show progress over the statements (None: on a terminal); off by default because the API
    snapshots in a background thread.
    """
    with step("snapshot of the graph", 5 + len(INTERACTION_TYPES) + len(ITEM_RELATIONS), enabled=progress) as bar:
        return _snapshot(store, bar)


def _snapshot(store: GraphStore, bar: Step) -> GraphSnapshot:
    ids: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    products = store.query(
        "MATCH (p:Product) RETURN p.id AS id, p.title AS title, p.description AS description, "
        "p.text_hash AS text_hash, p.active AS active ORDER BY id"
    )
    ids["product"] = [r["id"] for r in products]
    titles = [_str(r["title"]) for r in products]
    descriptions = [_str(r["description"]) for r in products]
    text_hashes = [_str(r["text_hash"]) for r in products]
    active = np.array([r["active"] is not False for r in products], dtype=bool)
    bar.advance()
    ids["user"] = [r["id"] for r in store.query("MATCH (u:User) RETURN u.id AS id ORDER BY id")]
    bar.advance()
    names["user"] = []
    names["product"] = []
    for node_type in ("brand", "category", "entity"):
        label = _LABELS[node_type].value
        rows = store.query(f"MATCH (n:{label}) RETURN n.id AS id, n.name AS name ORDER BY id")
        ids[node_type] = [r["id"] for r in rows]
        names[node_type] = [_str(r["name"]) for r in rows]
        bar.advance()
    index = {t: {node_id: i for i, node_id in enumerate(ids[t])} for t in NODE_TYPES}

    # Interactions, merged over types to one row per (user, product) pair: first occurrence wins the order
    # key (a repeat purchase of an item already seen cannot be a "next new item" to predict).
    first: dict[tuple[int, int], tuple[int, int, int]] = {}
    counts: dict[tuple[int, int], int] = {}
    for kind, rel in enumerate(INTERACTION_TYPES):
        rows = store.query(
            f"MATCH (u:User)-[r:{rel.value}]->(p:Product) "
            "RETURN u.id AS src, p.id AS dst, r.ts AS ts, r.seq AS seq, r.count AS count ORDER BY src, dst"
        )
        for r in rows:
            key = (index["user"][r["src"]], index["product"][r["dst"]])
            order = (int(r["ts"] or 0), int(r["seq"] or 0), kind)
            if key not in first or order < first[key]:
                first[key] = order
            counts[key] = counts.get(key, 0) + max(int(r["count"] or 1), 1)
        bar.advance()
    pairs = sorted(first)
    inter = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    orders = np.array([first[p] for p in pairs], dtype=np.int64).reshape(-1, 3)

    item_edges: dict[str, np.ndarray] = {}
    for name, (rel, target) in ITEM_RELATIONS.items():
        target_label = _LABELS[target].value
        rows = store.query(
            f"MATCH (p:Product)-[r:{rel.value}]->(t:{target_label}) RETURN p.id AS src, t.id AS dst "
            "ORDER BY src, dst"
        )
        edges = [(index["product"][r["src"]], index[target][r["dst"]]) for r in rows]
        item_edges[name] = np.array(edges, dtype=np.int64).reshape(-1, 2).T.copy()
        bar.advance()

    snapshot = GraphSnapshot(
        ids=ids, names=names, titles=titles, descriptions=descriptions, text_hashes=text_hashes, active=active,
        inter_user=inter[:, 0].copy(), inter_product=inter[:, 1].copy(),
        inter_ts=orders[:, 0].copy(), inter_seq=orders[:, 1].copy(),
        inter_count=np.array([counts[p] for p in pairs], dtype=np.int64),
        inter_kind=orders[:, 2].astype(np.int8), item_edges=item_edges,
    )
    snapshot.snapshot_id = snapshot.compute_id()
    return snapshot


@dataclass
class Split:
    """Which interactions train, which are held out, and which products are cold.

    Each of ``train``, ``valid``, ``test`` and ``cold`` is a ``[2, E]`` int64 array of (user index, product
    index). ``valid`` and ``test`` hold at most one pair per user (leave-one-out) and only warm products;
    ``cold`` holds *every* interaction with a cold product (none of them is ever trained on).

    Attributes:
        cold_products: sorted indexes of the products withheld from training.
        seed, cold_fraction: how the cold products were drawn.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    cold: np.ndarray
    cold_products: np.ndarray
    num_users: int
    num_products: int
    seed: int = 0
    cold_fraction: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def warm_mask(self) -> np.ndarray:
        """``[num_products]`` bool: products that may appear in training."""
        mask = np.ones(self.num_products, dtype=bool)
        mask[self.cold_products] = False
        return mask

    def train_items_by_user(self) -> list[np.ndarray]:
        return _group(self.train, self.num_users)

    def known(self, phase: Phase) -> np.ndarray:
        """``[2, E]`` the interactions a model may use as input when it ranks for ``phase``: ``train`` for
        validation, ``train + valid`` for the test (the valid item is history by then, as in serving), and
        every warm interaction for ``serve`` (the bundle's embeddings: all that is known)."""
        parts = {"valid": (self.train,), "test": (self.train, self.valid),
                 "serve": (self.train, self.valid, self.test)}[phase]
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def summary(self) -> dict[str, int]:
        return {"train": self.train.shape[1], "valid": self.valid.shape[1], "test": self.test.shape[1],
                "cold_interactions": self.cold.shape[1], "cold_products": len(self.cold_products)}


def _group(pairs: np.ndarray, num_users: int) -> list[np.ndarray]:
    """Per user, the sorted product indexes of ``pairs``."""
    order = np.lexsort((pairs[1], pairs[0]))
    users, products = pairs[0, order], pairs[1, order]
    bounds = np.searchsorted(users, np.arange(num_users + 1))
    return [products[bounds[u]:bounds[u + 1]] for u in range(num_users)]


def _unit_hash(product_id: str, seed: int) -> float:
    """A uniform draw in [0, 1) fixed by the product id and the seed: a product's cold or warm role does not
    change when other products are added or removed (a rebuilt bundle's cold slice stays comparable)."""
    digest = hashlib.blake2b(f"{seed}\x00{product_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_snapshot(snapshot: GraphSnapshot, *, cold_fraction: float = 0.0, seed: int = 0,
                   min_interactions: int = 3) -> Split:
    """Leave-one-out split by order per user, with a seeded cold-product slice. Deterministic.

    Args:
        snapshot: the graph.
        cold_fraction: expected share of the products with at least one interaction withheld from training
            (each is drawn independently by a hash of its id and ``seed``; 0: the standard split).
        seed: seeds the draw of cold products.
        min_interactions: users with fewer (warm) interactions than this are train only.
    """
    if not 0.0 <= cold_fraction < 1.0:
        raise ValueError(f"cold_fraction must be in [0, 1), got {cold_fraction}")
    num_products = snapshot.num_products
    interacted = np.unique(snapshot.inter_product)
    is_cold = np.zeros(num_products, dtype=bool)
    if cold_fraction > 0 and len(interacted):
        draws = np.array([_unit_hash(snapshot.ids["product"][p], seed) for p in interacted])
        is_cold[interacted[draws < cold_fraction]] = True
    cold_products = np.flatnonzero(is_cold).astype(np.int64)

    users, products = snapshot.inter_user, snapshot.inter_product
    cold_rows = is_cold[products]
    cold = np.stack([users[cold_rows], products[cold_rows]])

    # Warm interactions, ordered per user by (ts, seq, product index): a total, deterministic order.
    w = ~cold_rows
    wu, wp, wts, wseq = users[w], products[w], snapshot.inter_ts[w], snapshot.inter_seq[w]
    order = np.lexsort((wp, wseq, wts, wu))
    wu, wp = wu[order], wp[order]
    bounds = np.searchsorted(wu, np.arange(snapshot.num_users + 1))
    n_per_user = np.diff(bounds)
    role = np.zeros(len(wu), dtype=np.int8)  # 0 train, 1 valid, 2 test
    eligible = np.flatnonzero(n_per_user >= min_interactions)
    role[bounds[eligible + 1] - 1] = 2
    role[bounds[eligible + 1] - 2] = 1
    train = np.stack([wu[role == 0], wp[role == 0]])
    valid = np.stack([wu[role == 1], wp[role == 1]])
    test = np.stack([wu[role == 2], wp[role == 2]])
    return Split(train=train, valid=valid, test=test, cold=cold, cold_products=cold_products.astype(np.int64),
                 num_users=snapshot.num_users, num_products=num_products, seed=seed, cold_fraction=cold_fraction)


def set_interactions(data: HeteroData, pairs: np.ndarray) -> None:
    """Make the ``[2, E]`` (user, product) ``pairs`` the graph's user-product edges (both directions)."""
    pairs = pairs[:, np.lexsort((pairs[1], pairs[0]))]
    if pairs.shape[1]:
        data[INTERACTS].edge_index = _edge(pairs)
        data[REV_INTERACTS].edge_index = _edge(pairs[::-1])


def user_histories(snapshot: GraphSnapshot, split: Split, phase: Phase) -> list[np.ndarray]:
    """Per user, the product indexes of ``split.known(phase)`` in time order (the order of
    :func:`split_snapshot`: ``ts``, then ``seq``, then product index); cold products are never included."""
    known = split.known(phase)
    is_known = np.zeros(len(snapshot.inter_user), dtype=bool)
    key = snapshot.inter_user.astype(np.int64) * snapshot.num_products + snapshot.inter_product
    is_known[np.isin(key, known[0].astype(np.int64) * snapshot.num_products + known[1])] = True
    users, products = snapshot.inter_user[is_known], snapshot.inter_product[is_known]
    order = np.lexsort((products, snapshot.inter_seq[is_known], snapshot.inter_ts[is_known], users))
    users, products = users[order], products[order].astype(np.int64)
    bounds = np.searchsorted(users, np.arange(snapshot.num_users + 1))
    return [products[bounds[u]:bounds[u + 1]] for u in range(snapshot.num_users)]


def _edge(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64)).reshape(2, -1)


def _dedup_undirected(edges: np.ndarray) -> np.ndarray:
    """Both directions of product-product edges, without duplicates or self loops, sorted."""
    both = np.concatenate([edges, edges[::-1]], axis=1)
    both = both[:, both[0] != both[1]]
    if both.shape[1] == 0:
        return both.reshape(2, 0)
    return np.unique(both, axis=1)


def to_hetero_data(snapshot: GraphSnapshot, split: Split,
                   text_features: np.ndarray | Mapping[str, np.ndarray] | None = None, *,
                   min_entity_degree: int = 1, relations: Sequence[str] | None = None) -> HeteroData:
    """The message-passing graph for training and evaluation.

    Args:
        snapshot: the graph.
        split: only ``split.train`` becomes user-product edges; held-out and cold interactions never do.
        text_features: ``[num_products, D]`` product text embeddings, or a mapping ``{"product": ...,
            "entity": ...}``; stored as ``x`` of those node types (float32).
        min_entity_degree: ``mentions`` edges to entities mentioned by fewer products than this (counted over
            the whole snapshot) are left out. An entity only one product mentions passes no signal between
            products; in message passing it is one more free vector per product (ml-100k-kg: 21,293 of its
            33,126 entities). The entity nodes stay, so node counts and indexes do not depend on it.
        relations: the product relations of :data:`ITEM_RELATIONS` to include (``None``: all of them); e.g.
            leave out the co-purchase lists where they are not time-consistent with the split.

    Returns:
        HeteroData with node types user, product, brand, category, entity (empty ones skipped), each with
        ``num_nodes`` and ``node_id``; ``product.warm`` (bool, False for cold products) and
        ``product.active``; edge types ``(user, interacts, product)``, ``(product, made_by, brand)``,
        ``(product, in_category, category)``, ``(product, mentions, entity)``, the co-purchase relations as
        undirected ``(product, also_bought, product)`` etc., and ``rev_*`` reverses of the bipartite ones.
        Empty edge types are skipped.
    """
    features: dict[str, np.ndarray] = {}
    if isinstance(text_features, np.ndarray):
        features["product"] = text_features
    elif text_features is not None:
        features.update(text_features)

    data = HeteroData()
    for node_type in NODE_TYPES:
        n = snapshot.num_nodes(node_type)
        if n == 0:
            continue
        data[node_type].num_nodes = n
        data[node_type].node_id = torch.arange(n)
        if node_type in features:
            x = np.asarray(features[node_type], dtype=np.float32)
            if x.shape[0] != n:
                raise ValueError(f"{node_type} text features have {x.shape[0]} rows for {n} nodes")
            data[node_type].x = torch.from_numpy(x.copy())
    data["product"].warm = torch.from_numpy(split.warm_mask.copy())
    data["product"].active = torch.from_numpy(snapshot.active.copy())

    set_interactions(data, split.train)
    for name, (_, target) in ITEM_RELATIONS.items():
        if relations is not None and name not in relations:
            continue
        edges = snapshot.item_edges[name]
        if target == "entity" and min_entity_degree > 1 and edges.shape[1]:
            degree = np.bincount(edges[1], minlength=snapshot.num_nodes(target))
            edges = edges[:, degree[edges[1]] >= min_entity_degree]
        if edges.shape[1] == 0 or snapshot.num_nodes(target) == 0:
            continue
        if target == "product":
            und = _dedup_undirected(edges)
            if und.shape[1]:
                data["product", name, "product"].edge_index = _edge(und)
        else:
            data["product", name, target].edge_index = _edge(edges)
            data[target, f"rev_{name}", "product"].edge_index = _edge(edges[::-1])
    return data
