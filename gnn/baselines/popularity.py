"""Most-popular baseline: every user gets the products with the most train interactions."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.data import INTERACTS


class Popularity:
    """Scores a product by its number of train interactions (same for all users).

    Shapes:
        :meth:`embed`: ``(users [U, 1] of ones, products [P, 1] = train interaction counts)``.
    """

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        num_users, num_products = data["user"].num_nodes, data["product"].num_nodes
        counts = torch.zeros(num_products)
        if INTERACTS in data.edge_types:
            counts.index_add_(0, data[INTERACTS].edge_index[1], torch.ones(data[INTERACTS].edge_index.size(1)))
        return torch.ones(num_users, 1), counts.unsqueeze(1)
