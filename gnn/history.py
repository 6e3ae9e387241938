"""Serving a sequence bundle: a user's vector from their ordered history, recomputed as events arrive.

A ``kg_sasrec`` bundle stores product vectors and, per known user, the vector after their whole history at
training time. Both go stale the moment the user does something new; :class:`HistoryEncoder` runs the bundle's
self-attention encoder over any ordered list of products (history, then recent events, then items in the
request), so every event counts in the very next answer, and users the bundle never saw are served from their
first event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gnn.bundle import Bundle
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
