"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): a closed-form item-item model.

Each product's score for a user is a linear regression on the products the user already has,
``score_u = x_u B``, with ``B`` the ridge solution of ``min ||X - X B||^2 + l2 ||B||^2`` under ``diag(B) = 0``
(a product may not explain itself). Its closed form is ``P = (X^T X + l2 I)^-1``, ``B = -P / diag(P)``
column by column, diagonal set to 0: one dense ``[P, P]`` solve, no epochs. On catalogs without a time order
(amazon-book-kgat) it ranks far above the graph models (docs/gnn.md, README).

Serving scores users by dot products of fixed-width vectors, so ``B`` is factored at rank ``r``
(``B ~ W V^T`` from its top singular directions): a user's vector is the sum of the ``W`` rows of their
products, a product's is its ``V`` row. At ``r >= P`` the factors are exact (``W = B``, ``V = I``). The bundle
keeps ``W`` (:meth:`EASE.serving_state`), so serving sums the rows of everything a user has, events included.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.extmath import randomized_svd
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.data import INTERACTS


def interaction_matrix(users: np.ndarray, products: np.ndarray, num_users: int, num_products: int) -> sp.csr_matrix:
    """``[U, P]`` binary float32: 1 where the user interacted with the product (repeats count once)."""
    x = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, products)), shape=(num_users, num_products))
    x.data[:] = 1.0
    return x


def ease_weights(x: sp.csr_matrix, l2: float) -> Tensor:
    """``[P, P]`` float32 ``B`` of EASE for the ``[U, P]`` binary interactions ``x``: the Cholesky inverse of
    ``X^T X + l2 I`` (symmetric positive definite for ``l2 > 0``), each column divided by minus its diagonal
    entry, the diagonal zeroed."""
    if l2 <= 0:
        raise ValueError(f"EASE needs l2 > 0 (got {l2})")
    gram = torch.from_numpy((x.T @ x).toarray().astype(np.float32))
    gram.diagonal().add_(l2)
    precision = torch.cholesky_inverse(torch.linalg.cholesky(gram))
    del gram
    weights = precision.div_(-precision.diagonal())  # column j divided by -P[j, j]
    weights.diagonal().zero_()
    return weights


def factor(weights: Tensor, rank: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``(W [P, r'], V [P, r'])`` with ``W V^T`` the best rank-``r'`` approximation of ``weights``
    (``r' = min(rank, P)``; exact, ``W = weights`` and ``V = I``, when ``rank >= P``)."""
    size = weights.size(0)
    if rank >= size:
        return weights.clone(), torch.eye(size)
    left, values, right_t = randomized_svd(weights.numpy(), rank, n_iter=4, random_state=seed)
    return torch.from_numpy((left * values).astype(np.float32)), torch.from_numpy(right_t.T.astype(np.float32))


class EASE:
    """EASE, factored for dot-product serving; no parameters to learn (the solve is the training).

    Each graph's interactions get their own solve (cached by content): validation reads weights solved on
    train, the test weights solved on train + valid, serving weights solved on every known interaction. With
    no epoch or setting chosen on validation, there is nothing to hold back from the solve: a catalog update
    is a new solve, as the refitted graph peers of bench/peers get (docs/peers.md). Solving on train alone
    for every phase scored lower on the Amazon catalogs, whose users have few interactions (test NDCG@10
    amazon-office 0.0924 against 0.1060, amazon-beauty 0.0284 against 0.0329).

    Args:
        l2: the ridge weight (Steck's experiments: 200-500 for MovieLens and Netflix scales).
        rank: the width of the served vectors (``B``'s rank-``r`` factors; ``>= P`` for exact scores).
        max_products: the most products it will solve for: ``B`` is a dense ``[P, P]`` float32 matrix
            (30,000 products: 3.6 GB and a few minutes per solve on one core).
        seed: the randomised SVD's seed.

    Shapes:
        :meth:`embed`: ``(users [U, r'], products [P, r'])``, ``r' = min(rank, P)``; a user with no
        interaction gets a zero vector.
    """

    def __init__(self, l2: float = 200.0, rank: int = 512, max_products: int = 30_000, seed: int = 0) -> None:
        self.l2, self.rank, self.max_products, self.seed = l2, rank, max_products, seed
        self._factors: dict[str, tuple[Tensor, Tensor]] = {}  # per set of interactions (valid, test, serve)

    def fit(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """``(W [P, r'], V [P, r'])``: the factors of ``B`` solved on ``data``'s interactions (once per distinct
        set of interactions)."""
        num_users, num_products = int(data["user"].num_nodes), int(data["product"].num_nodes)
        if num_products > self.max_products:
            raise ValueError(f"EASE solves a dense {num_products} x {num_products} system: more products than "
                             f"its max_products ({self.max_products}); raise ease_max_products or use another model")
        edges = _edges(data)
        key = hashlib.blake2b(edges.tobytes() + np.int64(num_products).tobytes(), digest_size=16).hexdigest()
        if key not in self._factors:
            if len(self._factors) >= 3:
                self._factors.pop(next(iter(self._factors)))
            x = interaction_matrix(edges[0], edges[1], num_users, num_products)
            self._factors[key] = factor(ease_weights(x, self.l2), self.rank, self.seed)
        return self._factors[key]

    def serving_state(self, data: HeteroData) -> dict[str, Tensor]:
        """What a bundle keeps to serve this model as events arrive: ``history_rows`` ``[P, r']``, the ``W``
        factor of ``data``'s solve. A user's vector is the sum of the rows of the products they have, so an event
        adds its product's row: the model's own update at rank ``r'``, for users it never saw too."""
        return {"history_rows": self.fit(data)[0].contiguous()}

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        user_rows, product_rows = self.fit(data)
        edges = _edges(data)
        x = interaction_matrix(edges[0], edges[1], int(data["user"].num_nodes), product_rows.size(0))
        return torch.from_numpy(np.asarray(x @ user_rows.numpy(), dtype=np.float32)), product_rows


def _edges(data: HeteroData) -> np.ndarray:
    """``[2, E]`` (user, product) indexes of ``data``'s interactions."""
    return data[INTERACTS].edge_index.numpy() if INTERACTS in data.edge_types else np.zeros((2, 0), dtype=np.int64)
