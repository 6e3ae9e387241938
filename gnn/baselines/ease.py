"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): a closed-form item-item model.

Each product's score for a user is a linear regression on the products the user already has,
``score_u = x_u B``, with ``B`` the ridge solution of ``min ||X - X B||^2 + l2 ||B||^2`` under ``diag(B) = 0``
(a product may not explain itself). Its closed form is ``P = (X^T X + l2 I)^-1``, ``B = -P / diag(P)``
column by column, diagonal set to 0: one dense ``[P, P]`` solve, no epochs. On catalogs without a time order
(amazon-book-kgat) it ranks far above the graph models (docs/gnn.md, README).

Its vectors (what similar items and personalised search read, and the serving fallback) are ``B``'s rank-``r``
factors (``B ~ W V^T`` from its top singular directions): a user's vector is the sum of the ``W`` rows of their
products, a product's is its ``V`` row. Ranking itself uses the exact scores ``x_u B`` wherever the catalog has
at most ``exact_max_products`` products (:class:`ItemRegressionScores`; ``B`` kept in float16): the factors lose
much of it on a large catalog (amazon-book-kgat, 24,915 products, validation NDCG@10: exact 0.1246, rank 512
0.0986, rank 1024 0.1060, rank 2048 0.1134; ``bench/probes/ease_rank.py``). The bundle keeps ``W`` and ``B``
(:meth:`EASE.serving_state`), so serving sums the rows of everything a user has, events included, and ranks by
the sum of ``B``'s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ItemRegressionScores:
    """``users [B] -> [B, P]`` EASE's exact scores ``x_u B``: the sum of the ``B`` rows of each user's products
    (``x`` binary ``[U, P]``; ``weights`` ``B`` ``[P, P]``, float16 as served; sums in float32). A class, not a
    closure: a :class:`gnn.train.TrainResult` carrying it is sent back from a training process."""

    x: sp.csr_matrix
    weights: Tensor
    rows_per_chunk: int = 2048  # gathered rows at once: [chunk, P] float32 (200 MB at 25,000 products)

    def __call__(self, users: Tensor) -> Tensor:
        block = self.x[users.numpy()]
        owner = torch.from_numpy(np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)))
        products = torch.from_numpy(block.indices.astype(np.int64))
        out = torch.zeros(block.shape[0], self.weights.size(1))
        for start in range(0, products.numel(), self.rows_per_chunk):
            chunk = slice(start, start + self.rows_per_chunk)
            out.index_add_(0, owner[chunk], self.weights[products[chunk]].float())
        return out


class EASE:
    """EASE, ranked by its exact scores where the catalog allows and factored for its vectors; no parameters to
    learn (the solve is the training).

    Each graph's interactions get their own solve (cached by content): validation reads weights solved on
    train, the test weights solved on train + valid, serving weights solved on every known interaction. With
    no epoch or setting chosen on validation, there is nothing to hold back from the solve: a catalog update
    is a new solve, as the refitted graph peers of bench/peers get (docs/peers.md). Solving on train alone
    for every phase scored lower on the Amazon catalogs, whose users have few interactions (test NDCG@10
    amazon-office 0.0924 against 0.1060, amazon-beauty 0.0284 against 0.0329).

    Args:
        l2: the ridge weight (Steck's experiments: 200-500 for MovieLens and Netflix scales).
        rank: the width of its vectors (``B``'s rank-``r`` factors; exact, ``W = B`` and ``V = I``, at ``r >= P``).
        max_products: the most products it will solve for: ``B`` is a dense ``[P, P]`` float32 matrix
            (30,000 products: 3.6 GB and a few minutes per solve on one core).
        exact_max_products: the most products for which it ranks by the exact scores (``B`` kept in float16:
            1.2 GB in the bundle and in the API's memory at 24,915 products); above it, by the factors' dot
            products. 0: always the factors.
        seed: the randomised SVD's seed.

    Shapes:
        :meth:`embed`: ``(users [U, r'], products [P, r'])``, ``r' = min(rank, P)``; a user with no
        interaction gets a zero vector.
    """

    def __init__(self, l2: float = 200.0, rank: int = 512, max_products: int = 30_000, seed: int = 0,
                 exact_max_products: int = 30_000) -> None:
        self.l2, self.rank, self.max_products, self.seed = l2, rank, max_products, seed
        self.exact_max_products = exact_max_products
        # Per set of interactions (valid, test, serve): (W, V, B in float16 or None).
        self._factors: dict[str, tuple[Tensor, Tensor, Tensor | None]] = {}

    def fit(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """``(W [P, r'], V [P, r'])``: the factors of ``B`` solved on ``data``'s interactions (once per distinct
        set of interactions)."""
        return self._solve(data)[:2]

    def exact_weights(self, data: HeteroData) -> Tensor | None:
        """``B`` ``[P, P]`` float16 solved on ``data``'s interactions when it ranks by the exact scores, else
        ``None``."""
        return self._solve(data)[2]

    def _solve(self, data: HeteroData) -> tuple[Tensor, Tensor, Tensor | None]:
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
            weights = ease_weights(x, self.l2)
            exact = weights.half() if num_products <= self.exact_max_products else None
            self._factors[key] = (*factor(weights, self.rank, self.seed), exact)
        return self._factors[key]

    def score_fn(self, data: HeteroData) -> ItemRegressionScores | None:
        """The exact scores over ``data``'s interactions (:class:`ItemRegressionScores`), or ``None`` when this
        catalog is ranked by the factors' dot products."""
        weights = self.exact_weights(data)
        if weights is None:
            return None
        edges = _edges(data)
        return ItemRegressionScores(interaction_matrix(edges[0], edges[1], int(data["user"].num_nodes),
                                                       weights.size(0)), weights)

    def serving_state(self, data: HeteroData) -> dict[str, Tensor]:
        """What a bundle keeps to serve this model as events arrive, both summed over the products a user has:
        ``history_rows``, the ``W`` factor ``[P, r']`` (the sum is the user's vector), and, where it ranks by
        the exact scores, ``history_scores``, ``B`` itself ``[P, P]`` in float16 (the sum is the scores). An
        event adds its product's rows: the model's own update, for users it never saw too."""
        state = {"history_rows": self.fit(data)[0].contiguous()}
        exact = self.exact_weights(data)
        if exact is not None:
            state["history_scores"] = exact.contiguous()
        return state

    def embed(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        user_rows, product_rows = self.fit(data)
        edges = _edges(data)
        x = interaction_matrix(edges[0], edges[1], int(data["user"].num_nodes), product_rows.size(0))
        return torch.from_numpy(np.asarray(x @ user_rows.numpy(), dtype=np.float32)), product_rows


def _edges(data: HeteroData) -> np.ndarray:
    """``[2, E]`` (user, product) indexes of ``data``'s interactions."""
    return data[INTERACTS].edge_index.numpy() if INTERACTS in data.edge_types else np.zeros((2, 0), dtype=np.int64)
