"""Products' places in the spectrum of the product-product co-interaction graph: the third channel of the
sequence model (:class:`gnn.models.kg_sasrec.KGSASRec`).

Two products are neighbours when the same users interacted with both. The symmetric-normalised co-interaction
matrix ``C = D^-1/2 (A^T A - diag) D^-1/2`` (``A``: binary user x product) is a graph filter over products;
its top eigenvectors are the smooth, low-frequency signals of that graph, which graph-filter collaborative
filtering uses as its ideal low-pass filter (GF-CF, Shen et al., CIKM 2021). Each product's row of
``U_k sqrt(S_k)`` places it so that dot products between rows approximate ``C``'s leading positive part.

The softmax-trained id vectors already learn co-interaction, but only through a ``d``-wide bottleneck fitted to
next-item targets; the spectrum adds the whole graph's neighbourhoods at rank ``k`` with nothing to fit. It is
read from the interactions a graph holds (train at validation, train + valid at test, every known one when
serving), never from the item being predicted.
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


def cointeraction_matrix(users: np.ndarray, products: np.ndarray, num_products: int) -> sp.csr_matrix:
    """``[P, P]`` the symmetric-normalised co-interaction counts of (user, product) pairs: ``D^-1/2 C D^-1/2``
    with ``C[i, j]`` the number of users who interacted with both ``i`` and ``j`` (``i != j``), ``D`` its row
    sums. Repeated pairs count once."""
    num_users = int(users.max(initial=-1)) + 1
    a = sp.csr_matrix((np.ones(len(users)), (users, products)), shape=(num_users, num_products))
    a.data[:] = 1.0  # duplicates were summed: one interaction per (user, product)
    c = (a.T @ a).tocsr()
    c.setdiag(0)
    c.eliminate_zeros()
    degree = np.asarray(c.sum(axis=1)).ravel()
    scale = sp.diags(np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0))
    return (scale @ c @ scale).tocsr()


def cointeraction_spectrum(users: np.ndarray, products: np.ndarray, num_products: int, rank: int,
                           seed: int = 0) -> Tensor:
    """``[P, rank]`` each product's row of ``U_k sqrt(S_k)``, the top ``rank`` singular directions of
    :func:`cointeraction_matrix`, with the directions of negative eigenvalues zeroed (rows' dot products then
    approximate the matrix's positive part). The width is always ``rank`` (zero columns past the graph's size),
    so tables built on different graphs line up; a product with no co-interaction is a zero row.

    Args:
        users, products: ``[E]`` the interactions (indexes).
        num_products: P.
        rank: k.
        seed: the randomised SVD's seed (the same interactions give the same rows).
    """
    out = np.zeros((num_products, rank), dtype=np.float32)
    matrix = cointeraction_matrix(users, products, num_products)
    k = min(rank, num_products - 1)
    if matrix.nnz == 0 or k < 1:
        return torch.from_numpy(out)
    left, values, right_t = randomized_svd(matrix, k, n_iter=5, random_state=seed)
    positive = (left * right_t.T).sum(axis=0) > 0  # u_i = v_i: a positive eigenvalue; u_i = -v_i: negative
    out[:, :k] = (left * np.sqrt(values) * positive).astype(np.float32)
    return torch.from_numpy(out)


def text_to_rows_map(text: Tensor, rows: Tensor, fitted: Tensor, ridge: float = 1.0) -> Tensor:
    """``[T + 1, k]`` the ridge regression (closed form, bias last) of the ``fitted`` products' spectrum rows on
    their ``[P, T]`` text: what a product's row is, on average, for its text."""
    x = text[fitted].double()
    x1 = torch.cat([x, x.new_ones(x.size(0), 1)], dim=1)
    gram = x1.T @ x1 + ridge * torch.eye(x1.size(1), dtype=torch.float64)
    return torch.linalg.solve(gram, x1.T @ rows[fitted].double()).float()


def predicted_rows(text: Tensor, mapping: Tensor) -> Tensor:
    """``[N, k]`` rows predicted from ``[N, T]`` text by :func:`text_to_rows_map`'s ``mapping``."""
    return text.float() @ mapping[:-1] + mapping[-1]


class SpectrumCache:
    """:func:`cointeraction_spectrum` of a graph's interactions, computed once per distinct set of interactions
    (keyed by their content: the validation, test and serving graphs each get their own, and a copy of a graph
    with products appended reuses its source's).

    A product with no co-interaction (cold, new, or chosen by one user only) gets the row its text predicts
    (:func:`text_to_rows_map`, fitted on the products that have one), when the graph has product text: with a
    zero row a new product would lose to every trained one on this channel for being new alone."""

    def __init__(self, rank: int, capacity: int = 4) -> None:
        self.rank, self.capacity = rank, capacity
        self._cached: dict[str, tuple[Tensor, Tensor | None]] = {}

    def _entry(self, data: HeteroData) -> tuple[Tensor, Tensor | None]:
        edges = data[INTERACTS].edge_index if INTERACTS in data.edge_types else torch.zeros(2, 0, dtype=torch.long)
        text = data["product"].x if "x" in data["product"] else None
        key = hashlib.blake2b(edges.numpy().tobytes(), digest_size=16).hexdigest()
        if key not in self._cached:
            if len(self._cached) >= self.capacity:
                self._cached.pop(next(iter(self._cached)))
            pairs = edges.numpy()
            known = int(pairs[1].max(initial=-1)) + 1
            spectrum = cointeraction_spectrum(pairs[0], pairs[1], known, self.rank)
            has_row = spectrum.abs().sum(dim=1) > 0
            mapping = (text_to_rows_map(text[:known], spectrum, has_row)
                       if text is not None and bool(has_row.any()) else None)
            self._cached[key] = (spectrum, mapping)
        return self._cached[key]

    def interaction_rows(self, data: HeteroData) -> Tensor:
        """``[P, rank]`` the spectrum rows of ``data``'s products as the interactions give them (zeros for a
        product with no co-interaction)."""
        spectrum, _ = self._entry(data)
        num_products = int(data["product"].num_nodes)
        padding = spectrum.new_zeros(max(num_products - spectrum.size(0), 0), self.rank)
        return torch.cat([spectrum, padding])[:num_products]

    def rows(self, data: HeteroData) -> Tensor:
        """``[P, rank]`` :meth:`interaction_rows`, predicted from text where a product has none (zeros when the
        graph has no text)."""
        rows = self.interaction_rows(data)
        _, mapping = self._entry(data)
        if mapping is not None:
            missing = rows.abs().sum(dim=1) == 0
            rows[missing] = predicted_rows(data["product"].x[missing], mapping)
        return rows
