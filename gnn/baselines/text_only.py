"""Text-only baseline: a user is the mean text embedding of their train products; score = cosine."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.data import INTERACTS


class TextOnly:
    """Content-based: no learning, no graph beyond the user's own train items.

    Shapes:
        :meth:`embed`: ``(users [U, D], products [P, D])``, both L2-normalised (zero for a user with no
        train items), ``D`` = text embedding width; dot product = cosine similarity.
    """

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        items = F.normalize(data["product"].x.float(), dim=1)
        users = torch.zeros(data["user"].num_nodes, items.size(1))
        if INTERACTS in data.edge_types:
            ei = data[INTERACTS].edge_index
            users.index_add_(0, ei[0], items[ei[1]])
        return F.normalize(users, dim=1), items
