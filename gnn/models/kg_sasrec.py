"""The sequence-aware recommender: item vectors from the knowledge-graph + text encoder, the user vector from a
causal self-attention encoder over the user's ordered history, scored against every product."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from gnn.models.item_graph import ItemGraphEncoder
from gnn.models.sasrec import SASRecEncoder


def pad_histories(histories: Sequence[np.ndarray], pad: int) -> tuple[Tensor, Tensor]:
    """Right-padded ``[B, T]`` item indexes (``pad`` after each history) and the ``[B]`` lengths."""
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    out = np.full((len(histories), max(int(lengths.max(initial=1)), 1)), pad, dtype=np.int64)
    for i, h in enumerate(histories):
        out[i, : len(h)] = h
    return torch.from_numpy(out), torch.from_numpy(lengths)


class KGSASRec(nn.Module):
    """KG + text item encoder (:class:`ItemGraphEncoder`) and SASRec user encoder (:class:`SASRecEncoder`) with
    tied input and output item vectors: ``score(u, p) = <SASRec(items of u's history)_last, item(p)>``.

    The item vectors depend only on product text and the product side of the graph (plus a learned id for
    products with interactions), so a new product gets one from its text and edges with no retraining; the
    user vector depends only on the ordered items, so every event counts the moment it is known.

    Args:
        num_nodes: node type -> node count of the training graph.
        text_dim: product text feature width (0: none).
        hidden_channels: d, shared by items and the user encoder.
        num_layers: item-graph propagation rounds.
        graph_weight: share of the propagated item layers in the item vector.
        product_id_embedding: learned id vectors for products.
        max_len: longest history read (the most recent items).
        num_blocks, num_heads, dropout: the self-attention encoder's.
        id_dropout: see :class:`ItemGraphEncoder`.
        temperature: cosine scores (user state and item vector L2-normalised, logits divided by this) instead of
            dot products; ``None``: dot products. Unit vectors keep popular items from winning by vector length.

    Shapes:
        item_vectors(data) -> ``[P, d]``; states(items ``[P, d]``, seq ``[B, T]``, lengths ``[B]``) ->
        ``[B, T, d]``; embed_histories(data, histories) -> (``[U, d]``, ``[P, d]``).
    """

    def __init__(self, num_nodes: dict[str, int], text_dim: int, hidden_channels: int, *, num_layers: int = 2,
                 graph_weight: float = 0.5, product_id_embedding: bool = True, max_len: int = 50,
                 num_blocks: int = 2, num_heads: int = 1, dropout: float = 0.5,
                 temperature: float | None = None, id_dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len, self.temperature = max_len, temperature
        self.items = ItemGraphEncoder(num_nodes, text_dim, hidden_channels, num_layers=num_layers,
                                      graph_weight=graph_weight, product_id_embedding=product_id_embedding,
                                      id_dropout=id_dropout)
        self.encoder = SASRecEncoder(hidden_channels, max_len, num_layers=num_blocks, num_heads=num_heads,
                                     dropout=dropout)

    def reset_parameters(self) -> None:
        self.items.reset_parameters()
        self.encoder.reset_parameters()

    def item_vectors(self, data: HeteroData) -> Tensor:
        return self.items(data)

    def output_vectors(self, vectors: Tensor) -> Tensor:
        """What is scored: the vectors themselves, or unit vectors with cosine scores."""
        return F.normalize(vectors, dim=-1) if self.temperature is not None else vectors

    def logits(self, states: Tensor, item_vecs: Tensor) -> Tensor:
        """``[N, P]`` training logits of ``[N, d]`` user states against every item."""
        scores = self.output_vectors(states) @ self.output_vectors(item_vecs).T
        return scores / self.temperature if self.temperature is not None else scores

    def states(self, item_vecs: Tensor, seq: Tensor, lengths: Tensor) -> Tensor:
        """User states after each position of ``seq`` (padding index = ``P``; pad outputs are meaningless).

        The encoder reads the same vectors it scores (unit vectors with cosine scores): a served bundle keeps only
        those, and a user's history is re-encoded from them at request time (:mod:`gnn.history`)."""
        item_vecs = self.output_vectors(item_vecs)
        padded = torch.cat([item_vecs, item_vecs.new_zeros(1, item_vecs.size(1))], dim=0)
        return self.encoder(padded[seq], lengths)

    def user_vectors(self, item_vecs: Tensor, histories: Sequence[np.ndarray], batch_size: int = 1024) -> Tensor:
        """``[len(histories), d]``: the state after each history's last ``max_len`` items (a unit vector with cosine
        scores); zeros for an empty one."""
        out = item_vecs.new_zeros(len(histories), item_vecs.size(1))
        rows = sorted((i for i, h in enumerate(histories) if len(h)),
                      key=lambda i: min(len(histories[i]), self.max_len))
        pad = item_vecs.size(0)
        for start in range(0, len(rows), batch_size):  # similar lengths together: little padding
            batch = rows[start:start + batch_size]
            seq, lengths = pad_histories([histories[i][-self.max_len:] for i in batch], pad)
            out[torch.tensor(batch)] = self.encoder.last(self.states(item_vecs, seq, lengths), lengths)
        return self.output_vectors(out)

    def embed_histories(self, data: HeteroData, histories: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        """(user vectors after ``histories``, item vectors): the two sides of the dot product."""
        item_vecs = self.item_vectors(data)
        return self.user_vectors(item_vecs, histories), self.output_vectors(item_vecs)
