"""BPR matrix factorisation (Rendle et al., 2009): learned user and product embeddings, dot product."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData


class BPRMF(torch.nn.Module):
    """Matrix factorisation trained with BPR.

    Args:
        num_users: number of users.
        num_products: number of products.
        embedding_dim: width of the factors.

    Shapes:
        :meth:`embed`: ``(users [num_users, embedding_dim], products [num_products, embedding_dim])``.
    """

    def __init__(self, num_users: int, num_products: int, embedding_dim: int = 64) -> None:
        super().__init__()
        self.user = torch.nn.Embedding(num_users, embedding_dim)
        self.product = torch.nn.Embedding(num_products, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.user.weight, std=0.1)
        torch.nn.init.normal_(self.product.weight, std=0.1)

    def embed(self, data: HeteroData | None = None) -> tuple[Tensor, Tensor]:
        return self.user.weight, self.product.weight
