"""Which products follow which in users' histories: the fifth channel of the sequence model
(:class:`gnn.models.kg_sasrec.KGSASRec`).

``T[i, j]`` is the share of the times product ``i`` was followed, in a user's ordered history, by product ``j``:
the first-order Markov chain of FPMC and of the item-transition graphs of session models (SR-GNN). Its rank-``r``
factors ``T ~ U_r S_r V_r^T`` give each product two rows: a *from* row ``U_r S_r`` (what tends to come after
it) and a *to* row ``V_r`` (what it tends to come after). A user's decayed sum of the from rows of their last
items, dotted with a product's to row, approximates the probability that the product comes next.

The self-attention encoder learns transitions too, but through a ``d``-wide state fitted by the softmax, which
spreads rare pairs thin; the factors carry every observed pair at rank ``r``, with nothing to fit. Unlike the
co-interaction channel (:mod:`gnn.cointeraction`, symmetric: who bought both) this one is directed and counts
only neighbours in time. It is read from the histories known at each phase (train at validation, train + valid
at test, every known event when serving), never from the item being predicted. A product with no transition
(cold, new) gets zero rows: nothing is known about what follows it.

Rank ``r`` keeps the broad structure of ``T`` but not its long tail of rare pairs (``T`` has as many non-zero
entries as there are distinct consecutive pairs; in exploratory runs rank 512 did no better than rank 256).
:class:`TransitionLookup` reads ``T`` itself: the exact rows of the user's newest items, decayed and summed, as
a sparse score added to the dot products (FPMC's Markov-chain term, without its factorisation). It cannot ride
in a vector, so evaluation (:func:`gnn.evaluation.ranking_inputs`) and serving add it beside the dot products.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.extmath import randomized_svd
from torch import Tensor


def transition_counts(histories: Sequence[np.ndarray], num_products: int, window: int = 1) -> sp.csr_matrix:
    """``[P, P]`` the counts of the pairs ``(h[t], h[t + k])`` over ``histories`` (each ordered oldest first), ``k``
    from 1 to ``window``, each later step weighing half the one before (``window`` 3: the next one counting 1, then
    0.5 and 0.25). A product followed by itself is left out (an item already in a history is never recommended)."""
    pairs = [(h[:-k], h[k:], 0.5 ** (k - 1)) for k in range(1, max(window, 1) + 1) for h in histories if len(h) > k]
    if not pairs:
        return sp.csr_matrix((num_products, num_products))
    rows = np.concatenate([source for source, _, _ in pairs])
    cols = np.concatenate([target for _, target, _ in pairs])
    weights = np.concatenate([np.full(len(source), weight) for source, _, weight in pairs])
    keep = rows != cols
    counts = sp.csr_matrix((weights[keep], (rows[keep], cols[keep])), shape=(num_products, num_products))
    counts.sum_duplicates()
    return counts


def transition_matrix(histories: Sequence[np.ndarray], num_products: int, window: int = 1,
                      power: float = 1.0) -> sp.csr_matrix:
    """``[P, P]`` the row-normalised :func:`transition_counts`: row ``i`` is the distribution of what followed
    product ``i`` (``window`` 1: right after it; 3: within three steps, at weights 1, 0.5, 0.25). A product never
    followed is a zero row.

    ``power`` below 1 divides each row by its total to that power instead (0.5: the square root), so that a
    product followed many times weighs more, in a sum of rows, than one seen followed once: the order within a
    row is the same, only how much each row counts beside the others changes (the lookup sums the rows of a
    user's newest items).

    A window wider than 1 reads what comes *soon* after a product rather than exactly next: where the order inside
    a sitting is partly arbitrary (MovieLens's same-second ratings), the next item is one of the few after.
    """
    counts = transition_counts(histories, num_products, window)
    out_degree = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.where(out_degree > 0, np.maximum(out_degree, 1e-12) ** -power, 0.0)
    return (sp.diags(scale) @ counts).tocsr()


def transition_factors(histories: Sequence[np.ndarray], num_products: int, rank: int,
                       seed: int = 0) -> tuple[Tensor, Tensor]:
    """(from rows ``[P, rank]`` = ``U_r S_r``, to rows ``[P, rank]`` = ``V_r``) of the top ``rank`` singular
    directions of :func:`transition_matrix`, so that ``from[i] . to[j]`` approximates ``T[i, j]``. The width is
    always ``rank`` (zero columns past the matrix's size), so factors of different phases line up.

    Args:
        histories: per user, product indexes oldest first.
        num_products: P.
        rank: r.
        seed: the randomised SVD's seed (the same histories give the same rows).
    """
    source = np.zeros((num_products, rank), dtype=np.float32)
    target = np.zeros((num_products, rank), dtype=np.float32)
    matrix = transition_matrix(histories, num_products)
    k = min(rank, num_products - 1)
    if matrix.nnz and k >= 1:
        left, values, right_t = randomized_svd(matrix, k, n_iter=5, random_state=seed)
        source[:, :k] = left * values
        target[:, :k] = right_t.T
    return torch.from_numpy(source), torch.from_numpy(target)


def transition_profile(matrix: sp.csr_matrix, histories: Sequence[np.ndarray], last: int,
                       decay: float) -> sp.csr_matrix:
    """``[len(histories), P]`` per history, the sum of the ``matrix`` rows of its newest ``last`` items, the
    newest with weight 1 and each older one ``decay`` times the next (an empty history: a zero row; an index
    past the matrix, a product it has no row for: nothing)."""
    size = matrix.shape[0]
    if not len(histories):
        return sp.csr_matrix((0, matrix.shape[1]))
    rows, cols, weights = [], [], []
    for b, history in enumerate(histories):
        tail = np.asarray(history[-last:] if last > 0 else history[:0], dtype=np.int64)
        weight = decay ** np.arange(len(tail) - 1, -1, -1, dtype=np.float64)
        inside = tail < size
        rows.append(np.full(int(inside.sum()), b, dtype=np.int64))
        cols.append(tail[inside])
        weights.append(weight[inside])
    selector = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(histories), size))
    return (selector @ matrix).tocsr()


#: Text neighbours whose columns a product with none is given (:func:`imputed_columns`).
IMPUTE_NEIGHBOURS = 10
#: Products whose text is compared with every other product's at once (bounds the similarity block's memory).
IMPUTE_BATCH = 1024


def imputed_columns(matrix: sp.csr_matrix, text: np.ndarray, neighbours: int = IMPUTE_NEIGHBOURS) -> sp.csr_matrix:
    """``[P, P]`` columns for the products nothing was ever followed by (a zero column of ``matrix``: new
    products, withheld products), zero elsewhere: the mean of the columns of the product's ``neighbours`` most
    similar products by text that have one, weighted by their cosine (positive ones only). Column ``j`` then
    says how often each product was followed by products like ``j``: the co-interaction channel's "the row its
    text predicts", for the lookup.

    Args:
        matrix: ``[P, P]`` :func:`transition_matrix` (a product's column: what it followed).
        text: ``[P, t]`` the products' text vectors (any scale: they are made unit vectors here).
        neighbours: how many similar products each empty column averages.
    """
    size = matrix.shape[0]
    if text.shape[0] != size:
        raise ValueError(f"text has {text.shape[0]} rows for a {size}-product transition matrix")
    filled = np.asarray(matrix.getnnz(axis=0)).ravel() > 0
    empty, donors = np.flatnonzero(~filled), np.flatnonzero(filled)
    if not len(empty) or not len(donors):
        return sp.csr_matrix((size, size))
    unit = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    k = min(neighbours, len(donors))
    rows, cols, weights = [], [], []
    for start in range(0, len(empty), IMPUTE_BATCH):
        batch = empty[start:start + IMPUTE_BATCH]
        cosine = unit[batch] @ unit[donors].T
        nearest = np.argpartition(-cosine, k - 1, axis=1)[:, :k]
        weight = np.maximum(np.take_along_axis(cosine, nearest, axis=1), 0.0)
        weight /= np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
        rows.append(donors[nearest].ravel())
        cols.append(np.repeat(batch, k))
        weights.append(weight.ravel())
    # spread[k, j]: how much donor k's column lends to empty column j.
    spread = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
    return (matrix @ spread).tocsr()


def lookup_matrix(matrix: sp.csr_matrix, text: Tensor | np.ndarray | None, gain: float) -> sp.csr_matrix:
    """``matrix`` with its empty columns filled from text (:func:`imputed_columns` times ``gain``); ``matrix``
    itself without text or with gain 0. Text rows past the matrix (products appended since) are cut off, and a
    matrix wider than the text keeps its columns as they are."""
    if text is None or gain <= 0:
        return matrix
    values = text.detach().cpu().numpy() if isinstance(text, Tensor) else np.asarray(text)
    if values.shape[0] < matrix.shape[0]:
        return matrix
    return (matrix + gain * imputed_columns(matrix, values[:matrix.shape[0]].astype(np.float32))).tocsr()


@dataclass(frozen=True)
class TransitionLookup:
    """The exact transition score of the products that may come next: ``weight`` times the
    :func:`transition_profile` of the newest ``last`` items, divided by the profile's largest entry (so that the
    likeliest next product of every user gains ``weight`` exactly, whatever the history's length or the
    products' degrees). Products no history item was followed by gain nothing.

    Args:
        matrix: ``[P, P]`` :func:`transition_matrix` of the histories known when ranking.
        weight: the gain of the likeliest next product, in the units of the model's scores.
        decay: each older item's weight relative to the next newer one.
        last: how many of the newest items are read.
        observed: the transitions seen, when ``matrix`` also holds columns lent to new products
            (:func:`lookup_matrix`): what an explanation may cite ("chosen right after X"); None: ``matrix``.
    """

    matrix: sp.csr_matrix
    weight: float
    decay: float
    last: int
    observed: sp.csr_matrix | None = None

    def was_followed_by(self, before: int, after: int) -> bool:
        """Whether some history had ``after`` right after ``before`` (never a column lent from text)."""
        seen = self.matrix if self.observed is None else self.observed
        return before < seen.shape[0] and after < seen.shape[1] and seen[before, after] > 0

    def _scaled(self, histories: Sequence[np.ndarray]) -> sp.csr_matrix:
        profile = transition_profile(self.matrix, histories, self.last, self.decay)
        peak = profile.max(axis=1).toarray().ravel() if profile.shape[0] else np.zeros(0)
        scale = np.where(peak > 0, self.weight / np.maximum(peak, 1e-30), 0.0)
        return (sp.diags(scale) @ profile).tocsr()

    def scores(self, histories: Sequence[np.ndarray]) -> Tensor:
        """``[len(histories), P]`` float32, dense (for a batch of users in evaluation)."""
        return torch.from_numpy(self._scaled(histories).toarray().astype(np.float32))

    def sparse_scores(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(product indexes, float32 scores) of the products one ``history`` gives a non-zero score (a request
        reads ``last`` rows of ``T``, a few dozen entries, never the whole catalog). The same figures as
        :meth:`scores`, summed from the rows' slices without building a sparse product (about 0.4 -> 0.03 ms
        a request on a 12,101-product matrix)."""
        tail = np.asarray(history[-self.last:] if self.last > 0 else history[:0], dtype=np.int64)
        weights = self.decay ** np.arange(len(tail) - 1, -1, -1, dtype=np.float64)
        inside = tail < self.matrix.shape[0]
        ptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        spans = [(ptr[j], ptr[j + 1], w)
                 for j, w in zip(tail[inside].tolist(), weights[inside].tolist(), strict=True)]
        if not spans or all(lo == hi for lo, hi, _ in spans):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        products = np.concatenate([indices[lo:hi] for lo, hi, _ in spans])
        values = np.concatenate([data[lo:hi] * w for lo, hi, w in spans])
        unique, position = np.unique(products, return_inverse=True)
        sums = np.bincount(position, weights=values, minlength=len(unique))
        peak = sums.max()
        scale = self.weight / peak if peak > 0 else 0.0
        return unique.astype(np.int64), (sums * scale).astype(np.float32)


def padded(matrix: sp.csr_matrix, size: int) -> sp.csr_matrix:
    """``matrix`` as ``[size, size]``: zero rows and columns appended (products the histories never name), or
    cut to the first ``size``."""
    if size <= matrix.shape[0]:
        return matrix[:size, :size].tocsr()
    indptr = np.concatenate([matrix.indptr, np.full(size - matrix.shape[0], matrix.indptr[-1])])
    return sp.csr_matrix((matrix.data, matrix.indices, indptr), shape=(size, size))


class TransitionCache:
    """:func:`transition_matrix` and :func:`transition_factors` of a set of histories, computed once per distinct
    set (keyed by content: the validation, test and serving histories each get their own). A graph with more
    products than the histories name (products appended after training) gets zero rows for the extra ones."""

    def __init__(self, rank: int, capacity: int = 4) -> None:
        self.rank, self.capacity = rank, capacity
        self._cached: dict[str, tuple[Tensor, Tensor]] = {}
        self._matrices: dict[str, sp.csr_matrix] = {}

    @staticmethod
    def _key(histories: Sequence[np.ndarray]) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.array([len(h) for h in histories], dtype=np.int64).tobytes())
        for history in histories:
            digest.update(np.asarray(history, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def rows(self, histories: Sequence[np.ndarray], num_products: int) -> tuple[Tensor, Tensor]:
        """(from rows, to rows), each ``[num_products, rank]``."""
        key = self._key(histories)
        if key not in self._cached:
            if len(self._cached) >= self.capacity:
                self._cached.pop(next(iter(self._cached)))
            known = max((int(h.max()) + 1 for h in histories if len(h)), default=0)
            self._cached[key] = transition_factors(histories, known, self.rank)
        source, target = self._cached[key]
        padding = source.new_zeros(max(num_products - source.size(0), 0), self.rank)
        return torch.cat([source, padding])[:num_products], torch.cat([target, padding])[:num_products]

    def matrix(self, histories: Sequence[np.ndarray], num_products: int, window: int = 1,
               power: float = 1.0) -> sp.csr_matrix:
        """``[num_products, num_products]`` :func:`transition_matrix` of ``histories`` over ``window`` steps, its
        rows divided by their totals to ``power`` (the factors, :meth:`rows`, always read the next item only, as
        a distribution)."""
        key = f"{self._key(histories)}/{window}/{power:g}"
        if key not in self._matrices:
            if len(self._matrices) >= self.capacity:
                self._matrices.pop(next(iter(self._matrices)))
            known = max((int(h.max()) + 1 for h in histories if len(h)), default=0)
            self._matrices[key] = transition_matrix(histories, known, window, power)
        return padded(self._matrices[key], num_products)
