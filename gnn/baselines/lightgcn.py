"""LightGCN (He et al., 2020) on the user-product train graph, via :class:`torch_geometric.nn.models.LightGCN`."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn.models import LightGCN

from gnn.data import INTERACTS
from gnn.models.kg_lightgcn import normalized_adjacency


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
        # normalize=False: the symmetric normalisation is computed once (cached with the edges) instead of on
        # every forward pass; the sparse adjacency makes LGConv use one spmm per layer (about 5x faster).
        self.lightgcn = LightGCN(num_users + num_products, embedding_dim, num_layers, normalize=False)
        self._edge_cache: tuple[Tensor | None, Tensor] | None = None  # (edges it was built from, adjacency)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lightgcn.reset_parameters()
        torch.nn.init.normal_(self.lightgcn.embedding.weight, std=0.1)

    def homogeneous_edge_index(self, data: HeteroData) -> Tensor:
        """``[2, 2E]`` undirected user-product edges, products offset by ``num_users``."""
        ei = data[INTERACTS].edge_index if INTERACTS in data.edge_types else torch.zeros(2, 0, dtype=torch.long)
        src, dst = ei[0], ei[1] + self.num_users
        return torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])

    def normalized_adjacency(self, data: HeteroData) -> Tensor:
        """The symmetric-normalised adjacency ``D^-1/2 A D^-1/2`` of :meth:`homogeneous_edge_index` (sparse CSR),
        cached while ``data``'s interaction edges are the same tensor."""
        ei = data[INTERACTS].edge_index if INTERACTS in data.edge_types else None
        if self._edge_cache is None or self._edge_cache[0] is not ei:
            n = self.num_users + self.num_products
            self._edge_cache = (ei, normalized_adjacency(self.homogeneous_edge_index(data), n, n)[0])
        return self._edge_cache[1]

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        out = self.lightgcn.get_embedding(self.normalized_adjacency(data))
        return out[: self.num_users], out[self.num_users:]

    def embed_with_inputs(self, data: HeteroData) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """:meth:`embed` plus layer 0 (the embedding table), which LightGCN's BPR regulariser penalises."""
        user_emb, product_emb = self.embed(data)
        ego = self.lightgcn.embedding.weight
        return user_emb, product_emb, ego[: self.num_users], ego[self.num_users:]
