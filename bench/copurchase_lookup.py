"""A sanity baseline with no parameters: score a product by how many of the user's known products list it in
their co-purchase lists (also_bought, also_viewed, bought_together, both directions).

On the public Amazon data those lists come from a crawl made after the interactions they summarise, so this
baseline (and any model given those lists) knows the future of a leave-one-out split: its rows are marked so.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from gnn.data import COPURCHASE_RELATIONS, GraphSnapshot, Phase, Split
from gnn.metrics import ScoreFn


def copurchase_matrix(snapshot: GraphSnapshot) -> sp.csr_matrix:
    """``[P, P]`` count of co-purchase lists joining two products (symmetric, no self links)."""
    n = snapshot.num_products
    parts = [snapshot.item_edges[r] for r in sorted(COPURCHASE_RELATIONS) if snapshot.item_edges[r].shape[1]]
    if not parts:
        return sp.csr_matrix((n, n), dtype=np.float32)
    edges = np.concatenate(parts, axis=1)
    edges = edges[:, edges[0] != edges[1]]
    both = np.concatenate([edges, edges[::-1]], axis=1)
    return sp.csr_matrix((np.ones(both.shape[1], dtype=np.float32), (both[0], both[1])), shape=(n, n))


def lookup_score_fn(snapshot: GraphSnapshot, split: Split, phase: Phase) -> ScoreFn:
    """Scores for a batch of users: co-purchase links from their known products (``split.known(phase)``), plus
    a popularity tie-breaker far below one link (so users without links get the popular products)."""
    n_users, n_products = split.num_users, split.num_products
    known = split.known(phase)
    history = sp.csr_matrix((np.ones(known.shape[1], dtype=np.float32), (known[0], known[1])),
                            shape=(n_users, n_products))
    links = copurchase_matrix(snapshot)
    popularity = np.bincount(split.train[1], minlength=n_products).astype(np.float32)
    tie_break = torch.from_numpy(popularity / (popularity.max() + 1) * 1e-3)

    def score(users: torch.Tensor) -> torch.Tensor:
        rows = (history[users.numpy()] @ links).toarray()
        return torch.from_numpy(rows) + tie_break

    return score
