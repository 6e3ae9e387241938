"""Trainable recommenders (one per file) and :func:`build_model`, the factory the trainer uses."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.models.hetero_sage import HeteroSAGERecommender
from gnn.models.kg_lightgcn import KGLightGCNRecommender


class Recommender(Protocol):
    """Anything that embeds users and products so that score(user, product) = dot product."""

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]: ...


#: The encoders behind the ``gnn`` / ``gnn_notext`` models (``TrainConfig.conv`` picks one).
GNNEncoder = KGLightGCNRecommender | HeteroSAGERecommender

__all__ = ["GNNEncoder", "HeteroSAGERecommender", "KGLightGCNRecommender", "Recommender"]
