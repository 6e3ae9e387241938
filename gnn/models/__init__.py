"""Trainable recommenders (one per file) and their shared input layer.

:mod:`gnn.models.registry` builds every model kind, these and the baselines: its ``build_model`` for
training, its ``model_from_bundle`` for a saved bundle. It is not imported here: it imports
:mod:`gnn.baselines`, which imports :mod:`gnn.models.kg_lightgcn`, so importing it from this package would
make a circle.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.models.hetero_sage import HeteroSAGERecommender
from gnn.models.input_layer import InputLayer
from gnn.models.kg_lightgcn import KGLightGCNRecommender


class Recommender(Protocol):
    """Anything that embeds users and products so that score(user, product) = dot product."""

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]: ...


#: The encoders behind the ``gnn`` / ``gnn_notext`` models (``TrainConfig.conv`` picks one).
GNNEncoder = KGLightGCNRecommender | HeteroSAGERecommender

__all__ = ["GNNEncoder", "HeteroSAGERecommender", "InputLayer", "KGLightGCNRecommender", "Recommender"]
