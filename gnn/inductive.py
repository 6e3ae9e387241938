"""Embeddings for products added after training, without retraining.

A new product is attached to the trained message-passing graph as an extra ``product`` node with its text
embedding, no id embedding (``warm=False``) and its brand / category / entity / co-purchase edges (in both
directions, as in training); the trained encoder then runs on that graph and the new node's output is its
embedding. This is exactly the situation of the cold-item slice: cold products sit in the training graph
with text and item edges but no interactions and no id embedding, so the cold metrics measure this path.
Works with either ``gnn`` encoder (``TrainConfig.conv``): both are functions of the graph they are run on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.bundle import Bundle, graph_from_dict
from gnn.data import ITEM_RELATIONS
from gnn.models import GNNEncoder
from gnn.models.kg_sasrec import KGSASRec
from gnn.models.registry import model_from_bundle

#: Model kinds whose product vectors are a function of the graph and text, so a new product gets one.
INDUCTIVE_MODELS: frozenset[str] = frozenset({"kg_sasrec", "gnn", "gnn_notext"})


@dataclass
class NewProduct:
    """A product unknown to the trained model, described by its neighbours' ids (as in the graph).

    Ids that the trained graph does not know are ignored and listed in :attr:`InductiveResult.unknown`, and so
    are brands, categories and entities that it knows only as a node it never trained: no edge of that
    relation (e.g. an entity left out by ``TrainConfig.min_entity_degree``) and no text, so their embedding is
    still its random initialisation.
    """

    id: str
    text: str = ""
    brands: Sequence[str] = ()
    categories: Sequence[str] = ()
    entities: Sequence[str] = ()
    also_bought: Sequence[str] = ()
    also_viewed: Sequence[str] = ()
    bought_together: Sequence[str] = ()


@dataclass
class InductiveResult:
    embeddings: Tensor
    """``[N, d]``, one row per new product, in input order."""
    unknown: dict[str, list[str]] = field(default_factory=dict)
    """new product id -> neighbour ids that were not in the trained graph (or never trained, see NewProduct)."""


_FIELDS = {"made_by": "brands", "in_category": "categories", "mentions": "entities", "also_bought": "also_bought",
           "also_viewed": "also_viewed", "bought_together": "bought_together"}


def _trained_nodes(graph: HeteroData, rel: str, target: str) -> Tensor | None:
    """For a target type embedded by id alone (no text): which of its nodes have an edge of ``rel`` in the
    trained graph (the others never got a gradient). ``None``: every node is usable (products; text inputs)."""
    if target == "product" or target not in graph.node_types or "x" in graph[target]:
        return None
    trained = torch.zeros(int(graph[target].num_nodes), dtype=torch.bool)
    key = ("product", rel, target)
    if key in graph.edge_types:
        trained[graph[key].edge_index[1]] = True
    return trained


def attach_products(graph: HeteroData, id_maps: dict[str, list[str]], products: Sequence[NewProduct],
                    text_features: np.ndarray | Tensor | None) -> tuple[HeteroData, dict[str, list[str]]]:
    """A copy of ``graph`` with ``products`` appended as product nodes ``P .. P+N-1`` and their edges."""
    data = graph.clone()
    p0 = int(data["product"].num_nodes)
    n = len(products)
    new_index = torch.arange(p0, p0 + n)
    data["product"].num_nodes = p0 + n
    data["product"].node_id = torch.cat([data["product"].node_id, new_index])
    data["product"].warm = torch.cat([data["product"].warm, torch.zeros(n, dtype=torch.bool)])
    if "active" in data["product"]:
        data["product"].active = torch.cat([data["product"].active, torch.ones(n, dtype=torch.bool)])
    if "x" in data["product"]:
        if text_features is None:
            raise ValueError("the model uses product text: pass text_features for the new products")
        x = torch.as_tensor(np.asarray(text_features, dtype=np.float32))
        if x.shape != (n, data["product"].x.size(1)):
            raise ValueError(f"text_features must be {(n, data['product'].x.size(1))}, got {tuple(x.shape)}")
        data["product"].x = torch.cat([data["product"].x, x])
    index = {t: {node_id: i for i, node_id in enumerate(ids)} for t, ids in id_maps.items()}
    unknown: dict[str, list[str]] = {}
    for rel, (_, target) in ITEM_RELATIONS.items():
        trained = _trained_nodes(graph, rel, target)
        src: list[int] = []
        dst: list[int] = []
        for i, product in enumerate(products):
            for node_id in getattr(product, _FIELDS[rel]):
                j = index.get(target, {}).get(node_id)
                if j is None or (trained is not None and not trained[j]):
                    unknown.setdefault(product.id, []).append(node_id)
                    continue
                src.append(p0 + i)
                dst.append(j)
        if not src:
            continue
        fwd = torch.tensor([src, dst], dtype=torch.long)
        if target == "product":
            key: tuple[str, str, str] = ("product", rel, "product")
            if key not in data.edge_types:
                continue  # the trained encoder has no weights for this relation
            data[key].edge_index = torch.cat([data[key].edge_index, fwd, fwd.flip(0)], dim=1)
        else:
            key, rev = ("product", rel, target), (target, f"rev_{rel}", "product")
            if key not in data.edge_types:
                continue
            data[key].edge_index = torch.cat([data[key].edge_index, fwd], dim=1)
            data[rev].edge_index = torch.cat([data[rev].edge_index, fwd.flip(0)], dim=1)
    return data, unknown


def embed_new_products(model: GNNEncoder | KGSASRec, graph: HeteroData, id_maps: dict[str, list[str]],
                       products: Sequence[NewProduct], text_features: np.ndarray | Tensor | None) -> InductiveResult:
    """Embed ``products`` with the trained ``model`` on ``graph`` (the graph of the bundle)."""
    data, unknown = attach_products(graph, id_maps, products, text_features)
    model.eval()
    with torch.no_grad():
        # A sequence model's product vectors are what it scores (and reads back as history): its output vectors.
        out = model.served_item_vectors(data) if isinstance(model, KGSASRec) else model(data)["product"]
    p0 = int(graph["product"].num_nodes)
    return InductiveResult(out[p0:p0 + len(products)].clone(), unknown)


class InductiveEncoder:
    """Embeds new products with a trained GNN bundle.

    Args:
        bundle: a loaded bundle of a ``gnn`` or ``gnn_notext`` model.
        text_encoder: turns :attr:`NewProduct.text` into features (default: a :class:`kg.text.TextEncoder`
            on the default model, created lazily) when features are not passed to :meth:`embed`.
    """

    def __init__(self, bundle: Bundle, text_encoder: Any = None) -> None:
        if bundle.config.model not in INDUCTIVE_MODELS or bundle.graph is None or bundle.model_meta is None:
            raise ValueError(f"bundle {bundle.path} ({bundle.config.model}) has no GNN encoder for new products")
        self.bundle = bundle
        self.model: GNNEncoder | KGSASRec = model_from_bundle(bundle.config, bundle.model_meta, bundle.state_dict)
        self.graph = graph_from_dict(bundle.graph)
        self._text_encoder = text_encoder

    def embed(self, products: Sequence[NewProduct], text_features: np.ndarray | None = None) -> InductiveResult:
        if text_features is None and "x" in self.graph["product"]:
            if self._text_encoder is None:
                from kg.text import TextEncoder

                self._text_encoder = TextEncoder()
            text_features = self._text_encoder.encode([p.text for p in products])
        return embed_new_products(self.model, self.graph, self.bundle.id_maps, products, text_features)
