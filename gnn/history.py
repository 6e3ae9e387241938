"""Serving a sequence bundle: a user's vector from their ordered history, recomputed as events arrive.

A ``kg_sasrec`` bundle stores product vectors and, per known user, the vector after their whole history at
training time. Both go stale the moment the user does something new; :class:`HistoryEncoder` runs the bundle's
self-attention encoder over any ordered list of products (history, then recent events, then items in the
request), so every event counts in the very next answer, and users the bundle never saw are served from their
first event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from gnn.bundle import Bundle
from gnn.data import GraphSnapshot
from gnn.models.kg_sasrec import KGSASRec
from gnn.models.registry import model_from_bundle


class HistoryEncoder:
    """The user encoder of a sequence model over fixed item vectors.

    Args:
        model: the trained model (eval mode).
        item_vectors: ``[N, d]`` product vectors in the caller's product order (e.g. the serving catalog's,
            new products included); :meth:`encode` takes indexes into it.
    """

    def __init__(self, model: KGSASRec, item_vectors: np.ndarray) -> None:
        self.model = model.eval()
        self.item_vectors = torch.from_numpy(np.ascontiguousarray(item_vectors, dtype=np.float32))

    @classmethod
    def from_bundle(cls, bundle: Bundle, item_vectors: np.ndarray) -> HistoryEncoder | None:
        """The encoder of a ``kg_sasrec`` bundle with weights; ``None`` for every other model."""
        if bundle.config.model != "kg_sasrec" or bundle.state_dict is None or bundle.model_meta is None:
            return None
        model = model_from_bundle(bundle.config, bundle.model_meta, bundle.state_dict)
        return cls(model, item_vectors)

    @property
    def max_len(self) -> int:
        return self.model.max_len

    def encode(self, items: Sequence[int]) -> np.ndarray | None:
        """``[d]`` the user vector after ``items`` (indexes, oldest first; the last ``max_len`` are read);
        ``None`` for an empty history."""
        if not len(items):
            return None
        history = np.asarray(items, dtype=np.int64)[-self.max_len:]
        with torch.no_grad():
            vector = self.model.user_vectors(self.item_vectors, [history])[0]
        return vector.numpy()


class BundleLookupScores:
    """A bundle's transition lookup over a graph's ordered histories, as the additive scores of users by id
    (the lookup serving adds beside the dot products, for batch consumers such as ``cartograph export-recs``).

    Args:
        model: the bundle's model, its lookup on.
        product_ids: the bundle's products, in its order (the columns of the scores).
        snapshot: the graph now: every history it holds feeds the transition matrix, as in serving.
        text: ``[len(product_ids), t]`` the bundle's products' text features (for the columns the lookup gives
            products nothing was followed by, :meth:`KGSASRec.transition_lookup`); products added to the graph
            since have none here, so they lend nothing to such columns (serving embeds their text).
    """

    def __init__(self, model: KGSASRec, product_ids: Sequence[str], snapshot: GraphSnapshot,
                 text: np.ndarray | None = None) -> None:
        # Built in the graph's product order, as serving builds it, then read at the bundle's columns.
        order = snapshot.interaction_order()
        users, products = snapshot.inter_user[order], snapshot.inter_product[order]
        bounds = np.searchsorted(users, np.arange(snapshot.num_users + 1))
        self.histories = [products[bounds[u]:bounds[u + 1]] for u in range(snapshot.num_users)]
        self.user_row = snapshot.index("user")
        in_graph = snapshot.index("product")
        self.columns = np.array([in_graph.get(pid, -1) for pid in product_ids], dtype=np.int64)
        self.lookup = model.transition_lookup(self.histories, snapshot.num_products,
                                              None if text is None else _in_graph_order(text, self.columns,
                                                                                        snapshot.num_products))

    def __call__(self, user_ids: Sequence[str]) -> np.ndarray:
        """``[len(user_ids), P]`` float32 in the bundle's product order; zeros for a user the graph has no
        history for and for a product no longer in the graph."""
        scores = np.zeros((len(user_ids), len(self.columns)), dtype=np.float32)
        if self.lookup is None:
            return scores
        empty = np.zeros(0, dtype=np.int64)
        rows = [self.histories[self.user_row[u]] if u in self.user_row else empty for u in user_ids]
        present = self.columns >= 0
        scores[:, present] = self.lookup.scores(rows).numpy()[:, self.columns[present]]
        return scores


class BundleItemRegressionScores:
    """An EASE bundle's exact scores for users by id (the sum of the ``B`` rows of every product the graph says
    they have, as serving sums them), in the bundle's product order: for batch consumers such as
    ``cartograph export-recs``, which must rank as the API does.

    Args:
        weights: the bundle's ``[P, P]`` item-item weights (``history_scores``, float16).
        product_ids: the bundle's products, in its order (the rows and columns of ``weights``).
        snapshot: the graph now: a user's products are every interaction it holds (products the bundle does not
            have add nothing).
    """

    def __init__(self, weights: np.ndarray, product_ids: Sequence[str], snapshot: GraphSnapshot) -> None:
        self.weights = weights
        row = {pid: j for j, pid in enumerate(product_ids)}
        in_bundle = np.array([row.get(pid, -1) for pid in snapshot.ids["product"]], dtype=np.int64)
        products = in_bundle[snapshot.inter_product]
        keep = products >= 0
        users, products = snapshot.inter_user[keep], products[keep]
        order = np.argsort(users, kind="stable")
        users, products = users[order], products[order]
        bounds = np.searchsorted(users, np.arange(snapshot.num_users + 1))
        self.products = [np.unique(products[bounds[u]:bounds[u + 1]]) for u in range(snapshot.num_users)]
        self.user_row = snapshot.index("user")

    def __call__(self, user_ids: Sequence[str]) -> np.ndarray:
        """``[len(user_ids), P]`` float32; zeros for a user the graph has no interaction for."""
        scores = np.zeros((len(user_ids), self.weights.shape[1]), dtype=np.float32)
        for i, user in enumerate(user_ids):
            products = self.products[self.user_row[user]] if user in self.user_row else ()
            if len(products):
                scores[i] = self.weights[products].sum(axis=0, dtype=np.float32)
        return scores


def bundle_item_regression_scores(bundle: Bundle, read_snapshot: Callable[[], GraphSnapshot]
                                  ) -> BundleItemRegressionScores | None:
    """:class:`BundleItemRegressionScores` of an EASE bundle that ranks by its exact scores over the graph
    ``read_snapshot`` returns (called only when needed); ``None`` for every other bundle."""
    weights = (bundle.state_dict or {}).get("history_scores") if bundle.config.model == "ease" else None
    if weights is None:
        return None
    return BundleItemRegressionScores(weights.numpy(), bundle.id_maps.get("product", []), read_snapshot())


def _in_graph_order(text: np.ndarray, columns: np.ndarray, num_products: int) -> np.ndarray:
    """``[num_products, t]`` the bundle's text rows placed at their graph indexes (``columns``: bundle row ->
    graph index or -1); zeros for graph products the bundle does not have."""
    out = np.zeros((num_products, text.shape[1]), dtype=np.float32)
    present = columns >= 0
    out[columns[present]] = text[:len(columns)][present]
    return out


def bundle_lookup_scores(bundle: Bundle, read_snapshot: Callable[[], GraphSnapshot]) -> BundleLookupScores | None:
    """The lookup scores of ``bundle``'s model over the histories of the graph ``read_snapshot`` returns (called
    only when needed); ``None`` for a bundle whose model has no transition lookup (every model but a
    ``kg_sasrec`` that chose one)."""
    encoder = HistoryEncoder.from_bundle(bundle, bundle.product_embeddings)
    if encoder is None or not encoder.model.has_transition_lookup:
        return None
    product = (bundle.graph or {}).get("nodes", {}).get("product", {})
    text = product["x"].numpy() if "x" in product else None
    return BundleLookupScores(encoder.model, bundle.id_maps.get("product", []), read_snapshot(), text)
