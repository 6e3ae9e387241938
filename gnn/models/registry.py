"""The model registry: every model kind (``TrainConfig.model``) and the one function that builds it.

Training (:func:`build_model`) and loading a bundle (:func:`model_from_bundle`) both go through
:data:`MODELS`, so adding a model kind is one entry there (and one value of :data:`gnn.config.ModelKind`).
A builder gets the config and a :class:`ModelShape`: what sizes a model, taken from the train graph at
training time and from the bundle's ``model_meta.json`` when loading, so the two paths build the same module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType, Metadata, NodeType

from gnn.baselines import BPRMF, EASE, LightGCNRecommender, Popularity, TextOnly
from gnn.config import ModelKind, TrainConfig
from gnn.models import GNNEncoder
from gnn.models.hetero_sage import ConvKind, HeteroSAGERecommender
from gnn.models.kg_lightgcn import KGLightGCNRecommender
from gnn.models.kg_sasrec import KGSASRec


@dataclass(frozen=True)
class ModelShape:
    """Everything besides the config that sizes a model; saved as a bundle's ``model_meta.json``.

    Attributes:
        node_types / edge_types: the train graph's metadata.
        num_nodes: node type -> number of nodes (the id-embedding tables' rows).
        text_dims: node type -> text feature width, for the node types that carry ``x``.
        num_users / num_products: the interaction matrix's size (the baselines' embedding tables).
    """

    node_types: tuple[NodeType, ...]
    edge_types: tuple[EdgeType, ...]
    num_nodes: Mapping[NodeType, int]
    text_dims: Mapping[NodeType, int]
    num_users: int
    num_products: int

    @classmethod
    def of_graph(cls, data: HeteroData, num_users: int, num_products: int) -> ModelShape:
        """The shape of a model trained on the message-passing graph ``data``."""
        node_types, edge_types = data.metadata()
        return cls(
            node_types=tuple(node_types),
            edge_types=tuple(edge_types),
            num_nodes={t: int(data[t].num_nodes) for t in node_types},
            text_dims={t: int(data[t].x.size(1)) for t in node_types if "x" in data[t]},
            num_users=num_users,
            num_products=num_products,
        )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ModelShape:
        """The inverse of :meth:`to_meta` (JSON turned the edge-type tuples into lists)."""
        return cls(
            node_types=tuple(meta["node_types"]),
            edge_types=tuple(cast(EdgeType, tuple(et)) for et in meta["edge_types"]),
            num_nodes=dict(meta["num_nodes"]),
            text_dims=dict(meta["text_dims"]),
            num_users=int(meta["num_users"]),
            num_products=int(meta["num_products"]),
        )

    def to_meta(self) -> dict[str, Any]:
        """The JSON-ready form (``model_meta.json``)."""
        return {
            "node_types": list(self.node_types),
            "edge_types": [list(et) for et in self.edge_types],
            "num_nodes": dict(self.num_nodes),
            "text_dims": dict(self.text_dims),
            "num_users": self.num_users,
            "num_products": self.num_products,
        }

    @property
    def metadata(self) -> Metadata:
        """``(node_types, edge_types)``, as :meth:`HeteroData.metadata` gives them."""
        return list(self.node_types), list(self.edge_types)


#: Builds a freshly initialised model (seed the RNG first) for a config and a shape.
ModelBuilder = Callable[[TrainConfig, ModelShape], Any]


def _kg_lightgcn(config: TrainConfig, shape: ModelShape) -> KGLightGCNRecommender:
    return KGLightGCNRecommender(
        shape.metadata, dict(shape.num_nodes), dict(shape.text_dims), config.hidden_channels, config.num_layers,
        use_text=config.model == "gnn", product_id_embedding=config.product_id_embedding,
        id_dropout=config.id_dropout, relation_weights=config.relation_weights,
        relations=tuple(config.relations) if config.relations is not None else None,
        text_input=config.text_input,
    )


def _hetero_sage(config: TrainConfig, shape: ModelShape, conv: ConvKind) -> HeteroSAGERecommender:
    return HeteroSAGERecommender(
        shape.metadata, dict(shape.num_nodes), dict(shape.text_dims), config.hidden_channels, config.num_layers,
        use_text=config.model == "gnn", product_id_embedding=config.product_id_embedding,
        id_dropout=config.id_dropout, dropout=config.dropout, conv=conv,
    )


#: ``TrainConfig.conv`` -> the encoder behind the ``gnn`` / ``gnn_notext`` models.
ENCODERS: Mapping[str, Callable[[TrainConfig, ModelShape], GNNEncoder]] = {
    "lightgcn": _kg_lightgcn,
    "heteroconv": lambda config, shape: _hetero_sage(config, shape, "heteroconv"),
    "to_hetero": lambda config, shape: _hetero_sage(config, shape, "to_hetero"),
}


def _needs_product_text(config: TrainConfig, shape: ModelShape) -> None:
    if "product" not in shape.text_dims:
        raise ValueError(f"model {config.model!r} needs product text features")


def _gnn(config: TrainConfig, shape: ModelShape) -> GNNEncoder:
    if config.model == "gnn":
        _needs_product_text(config, shape)
    return ENCODERS[config.conv](config, shape)


def _kg_sasrec(config: TrainConfig, shape: ModelShape) -> KGSASRec:
    return KGSASRec(dict(shape.num_nodes), shape.text_dims.get("product", 0), config.seq_width,
                    num_layers=config.num_layers, graph_weight=config.graph_weight,
                    product_id_embedding=config.product_id_embedding, max_len=config.seq_max_len,
                    num_blocks=config.seq_blocks, num_heads=config.seq_heads, dropout=config.seq_dropout,
                    pre_norm=config.seq_pre_norm,
                    temperature=config.seq_temperature, id_dropout=config.id_dropout,
                    cointeraction_rank=config.seq_cointeraction_rank,
                    attribute_width=config.seq_attribute_width, attribute_relations=config.seq_attribute_relations,
                    transition_rank=config.seq_transition_rank, lookup_last=config.seq_transition_lookup,
                    lookup_max_window=config.seq_transition_window,
                    lookup_damped_power=config.seq_transition_damping)


def _text_only(config: TrainConfig, shape: ModelShape) -> TextOnly:
    _needs_product_text(config, shape)
    return TextOnly()


#: Model kind -> builder: the one place that knows which class a ``TrainConfig.model`` means.
MODELS: Mapping[ModelKind, ModelBuilder] = {
    "kg_sasrec": _kg_sasrec,
    "gnn": _gnn,
    "gnn_notext": _gnn,
    "bpr_mf": lambda config, shape: BPRMF(shape.num_users, shape.num_products, config.hidden_channels),
    "lightgcn": lambda config, shape: LightGCNRecommender(shape.num_users, shape.num_products,
                                                          config.hidden_channels, config.num_layers),
    "popularity": lambda config, shape: Popularity(),
    "ease": lambda config, shape: EASE(config.ease_l2, config.ease_rank, config.ease_max_products, config.seed,
                                       config.ease_exact_max_products),
    "text_only": _text_only,
}


def build_model(config: TrainConfig, shape: ModelShape) -> Any:
    """The model ``config.model`` names, freshly initialised (seed the RNG first).

    Returns a recommender (:class:`gnn.models.Recommender`), a :class:`torch.nn.Module` for trainable kinds.
    """
    if config.model == "auto":
        raise ValueError("model 'auto' is a choice among the candidates, made by gnn.pipeline.train_all; "
                         "build_model needs one model kind")
    builder = MODELS.get(config.model)
    if builder is None:
        raise ValueError(f"unknown model {config.model!r}")
    return builder(config, shape)


def model_from_bundle(config: TrainConfig, meta: Mapping[str, Any],
                      state_dict: Mapping[str, Tensor] | None) -> Any:
    """A trained model again, from a bundle's config, ``model_meta.json`` and weights, in eval mode."""
    model = build_model(config, ModelShape.from_meta(meta))
    if isinstance(model, torch.nn.Module):
        if state_dict is not None:
            model.load_state_dict(state_dict)
        model.eval()
    return model
