"""Trainable recommenders (one per file) and :func:`build_model`, the factory the trainer uses."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.models.hetero_sage import HeteroSAGERecommender


class Recommender(Protocol):
    """Anything that embeds users and products so that score(user, product) = dot product."""

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]: ...


__all__ = ["HeteroSAGERecommender", "Recommender"]
