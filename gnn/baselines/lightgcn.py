"""LightGCN (He et al., 2020) on the user-product train graph, via :class:`torch_geometric.nn.models.LightGCN`."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn.models import LightGCN

from gnn.data import INTERACTS


class LightGCNRecommender(torch.nn.Module):
    """LightGCN over the bipartite graph of *train* interactions (users first, then products).

    Args:
        num_users: number of users.
        num_products: number of products.
        embedding_dim: width of the embeddings.
        num_layers: propagation rounds.

    Shapes:
        :meth:`embed`: ``(users [num_users, embedding_dim], products [num_products, embedding_dim])``.
    """

    def __init__(self, num_users: int, num_products: int, embedding_dim: int = 64, num_layers: int = 2) -> None:
        super().__init__()
        self.num_users, self.num_products = num_users, num_products
        self.lightgcn = LightGCN(num_users + num_products, embedding_dim, num_layers)
        self._edge_cache: tuple[int, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lightgcn.reset_parameters()
        torch.nn.init.normal_(self.lightgcn.embedding.weight, std=0.1)

    def homogeneous_edge_index(self, data: HeteroData) -> Tensor:
        """``[2, 2E]`` undirected user-product edges, products offset by ``num_users``."""
        ei = data[INTERACTS].edge_index if INTERACTS in data.edge_types else torch.zeros(2, 0, dtype=torch.long)
        if self._edge_cache is None or self._edge_cache[0] != id(ei):
            src, dst = ei[0], ei[1] + self.num_users
            self._edge_cache = (id(ei), torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]))
        return self._edge_cache[1]

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        out = self.lightgcn.get_embedding(self.homogeneous_edge_index(data))
        return out[: self.num_users], out[self.num_users:]
