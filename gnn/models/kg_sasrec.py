"""The sequence-aware recommender: item vectors from the knowledge-graph + text encoder, the user vector from a
causal self-attention encoder over the user's ordered history, scored against every product."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from gnn.attributes import attribute_rows
from gnn.cointeraction import SpectrumCache
from gnn.models.item_graph import ItemGraphEncoder
from gnn.models.sasrec import SASRecEncoder
from gnn.transitions import TransitionCache, TransitionLookup, lookup_matrix


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
        num_blocks, num_heads, dropout, pre_norm: the self-attention encoder's (:class:`SASRecEncoder`).
        id_dropout: see :class:`ItemGraphEncoder`.
        temperature: cosine scores (user state and item vector L2-normalised, logits divided by this) instead of
            dot products; ``None``: dot products. Unit vectors keep popular items from winning by vector length.
        cointeraction_rank: k, the width of the co-interaction channel (0: the model has none).
        attribute_width: the width of the attribute channel (0: the model has none).
        attribute_relations: the product relations whose nodes make the attribute channel (``made_by``, ...).
        transition_rank: r, the rank of the transition channel (0: the model has none).
        lookup_last: how many of the user's newest items the transition lookup reads (0: no lookup).
        lookup_max_window: the widest window the lookup may read: after training, validation chooses between 1 and
            this (``lookup_window``).
        lookup_damped_power: the other row power validation may choose for the lookup (``lookup_row_power``):
            each row divided by its total to this power instead of 1 (:func:`gnn.transitions.transition_matrix`).

    Buffers set after training, on validation and the trained vectors (:mod:`gnn.content`), never by the
    gradient, and are 0 / 1 (no effect) until then and in bundles written before they existed:

    - ``content_weight`` (lambda) and ``content_decay`` (gamma): the text channel. What is served scores
      ``<state_u, item_p> + lambda * cos(t_u, x_p)``, with ``t_u`` the gamma-decayed sum of the text of the
      user's last ``max_len`` items (the newest weighs 1) and ``x_p`` the product's text. It is carried in the
      vectors themselves, ``[item_p, unit(x_p)]`` and ``[state_u, lambda * unit(t_u)]``, so every consumer of
      the dot product (evaluation, the bundle, ANN-free serving, :class:`gnn.history.HistoryEncoder`) gets it;
    - ``cold_scale``: the served vector of a product with no trained id (cold, or added after training) is
      multiplied by it, putting its scores on the scale trained products' scores have;
    - ``cold_text_gain``: the text part of such a product's served vector is multiplied by it (its text channel
      weighs ``lambda * cold_text_gain``): with no id, its text is most of what is known about it;
    - ``cold_text_weight`` and ``cold_text_decay``: where validation turns the text channel off (``lambda = 0``:
      on ml-100k-kg a film's title says less than its id), the text channel kept for products with no trained
      id alone, weighing this (trained products' text rows are zero): a new product's text is then still read;
    - ``cointeraction_weight`` (mu) and ``cointeraction_decay``: the co-interaction channel, built as the text
      channel is, on the unit rows ``s_p`` of the co-interaction spectrum of the graph's interactions
      (:mod:`gnn.cointeraction`) instead of text: ``+ mu * cos(s_u, s_p)``. A product with no interaction (cold,
      new) gets the row its text predicts (a ridge map fitted on the products that have one);
    - ``attribute_weight`` and ``attribute_decay``: the attribute channel, the same on the random-projection rows
      of each product's brand (and other ``attribute_relations`` nodes, :mod:`gnn.attributes`): how much of
      the user's recent history shares the product's brand;
    - ``transition_weight`` and ``transition_decay``: the transition channel, on the rank-``r`` factors of which
      product follows which in users' ordered histories (:mod:`gnn.transitions`): ``+ nu * cos(f_u, t_p)`` with
      ``f_u`` the decayed sum of the *from* rows of the user's last items and ``t_p`` the product's *to* row. The
      factors are asymmetric, so a served product vector carries both its to row (scored) and its from row
      (read only when a history containing the product is encoded; the user side has zeros there);
    - ``lookup_weight`` and ``lookup_decay``: the transition lookup, the exact rows of which product follows
      which for the user's newest ``lookup_last`` items (:class:`gnn.transitions.TransitionLookup`), added to
      the dot products beside the vectors (:meth:`transition_lookup`): the long tail of rare pairs that rank
      ``r`` leaves out;
    - ``lookup_window``: how many steps after a product its lookup row counts
      (:func:`gnn.transitions.transition_matrix`): 1 (what came next) or ``lookup_max_window``, chosen with the
      lookup's weight and decay;
    - ``lookup_row_power``: each lookup row divided by the row's total to this power: 1 (a distribution, each of
      the newest items counting alike) or ``lookup_damped_power`` (a product seen followed more often counts
      more), chosen after the window;
    - ``cold_lookup_gain``: a product nothing is known to follow anything into (new, withheld) gets, in the
      lookup, the columns of its nearest products by text (:func:`gnn.transitions.imputed_columns`) times
      this gain (0: none; it gains nothing from the lookup, as before the gain existed).

    Shapes:
        item_vectors(data) -> ``[P, d]``; states(items ``[P, d]``, seq ``[B, T]``, lengths ``[B]``) ->
        ``[B, T, d]``; served_item_vectors(data) -> ``[P, d']`` (``d' = d``, ``+ T`` with the text channel,
        ``+ k`` with the co-interaction channel, ``+ a`` with the attribute channel, ``+ 2r`` with the transition
        channel, in that order, and ``+ T`` more with the text kept for new products only);
        user_vectors(``[P, d']``, histories) -> ``[U, d']``; embed_histories(data, histories) -> (``[U, d']``,
        ``[P, d']``).
    """

    #: Histories per batch when a channel's history vectors are computed.
    HISTORY_BATCH: ClassVar[int] = 1024
    #: Buffers fitted after training, and the value that leaves the model as trained.
    CALIBRATION_DEFAULTS: ClassVar[dict[str, float]] = {"content_weight": 0.0, "content_decay": 1.0, "cold_scale": 1.0,
                                                         "cold_text_gain": 1.0, "cointeraction_weight": 0.0,
                                                         "cointeraction_decay": 1.0, "attribute_weight": 0.0,
                                                         "attribute_decay": 1.0, "transition_weight": 0.0,
                                                         "transition_decay": 1.0, "lookup_weight": 0.0,
                                                         "lookup_decay": 1.0, "cold_lookup_gain": 0.0,
                                                         "cold_text_weight": 0.0, "cold_text_decay": 1.0,
                                                         "lookup_window": 1.0, "lookup_row_power": 1.0}

    def __init__(self, num_nodes: dict[str, int], text_dim: int, hidden_channels: int, *, num_layers: int = 2,
                 graph_weight: float = 0.5, product_id_embedding: bool = True, max_len: int = 50,
                 num_blocks: int = 2, num_heads: int = 1, dropout: float = 0.5, pre_norm: bool = False,
                 temperature: float | None = None, id_dropout: float = 0.0, cointeraction_rank: int = 0,
                 attribute_width: int = 0, attribute_relations: Sequence[str] = ("made_by",),
                 transition_rank: int = 0, lookup_last: int = 0, lookup_max_window: int = 1,
                 lookup_damped_power: float = 1.0) -> None:
        super().__init__()
        self.max_len, self.temperature, self.hidden_channels = max_len, temperature, hidden_channels
        self.text_dim, self.cointeraction_rank = text_dim, cointeraction_rank
        self.attribute_width, self.attribute_relations = attribute_width, list(attribute_relations)
        self.spectrum = SpectrumCache(cointeraction_rank)
        self.transition_rank = transition_rank
        self.lookup_max_window, self.lookup_damped_power = lookup_max_window, lookup_damped_power
        self.transitions = TransitionCache(transition_rank)
        self.lookup_last = lookup_last
        self.content_weight: Tensor
        self.content_decay: Tensor
        self.cold_scale: Tensor
        self.cold_text_gain: Tensor
        self.cointeraction_weight: Tensor
        self.cointeraction_decay: Tensor
        self.attribute_weight: Tensor
        self.attribute_decay: Tensor
        self.transition_weight: Tensor
        self.transition_decay: Tensor
        self.lookup_weight: Tensor
        self.lookup_decay: Tensor
        self.cold_lookup_gain: Tensor
        self.cold_text_weight: Tensor
        self.cold_text_decay: Tensor
        self.lookup_window: Tensor
        self.lookup_row_power: Tensor
        for name, value in self.CALIBRATION_DEFAULTS.items():
            self.register_buffer(name, torch.tensor(value))
        #: What :mod:`gnn.content` chose and why (validation figures), for the bundle's metrics.
        self.calibration: dict[str, Any] = {}
        self.items = ItemGraphEncoder(num_nodes, text_dim, hidden_channels, num_layers=num_layers,
                                      graph_weight=graph_weight, product_id_embedding=product_id_embedding,
                                      id_dropout=id_dropout)
        self.encoder = SASRecEncoder(hidden_channels, max_len, num_layers=num_blocks, num_heads=num_heads,
                                     dropout=dropout, pre_norm=pre_norm)

    def __getstate__(self) -> dict[str, Any]:
        # The spectrum cache holds [P, k] tables per graph: a pickled model (sent back from a training process)
        # leaves them (they are recomputed from the graph on first use).
        state = self.__dict__.copy()
        state["spectrum"] = SpectrumCache(self.cointeraction_rank)
        state["transitions"] = TransitionCache(self.transition_rank)
        return state

    def reset_parameters(self) -> None:
        self.items.reset_parameters()
        self.encoder.reset_parameters()
        for name, value in self.CALIBRATION_DEFAULTS.items():
            getattr(self, name).fill_(value)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # Bundles written before the calibration existed load with the values that leave the model as trained.
        for name, value in self.CALIBRATION_DEFAULTS.items():
            state_dict.setdefault(prefix + name, torch.tensor(value))
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def has_text_channel(self) -> bool:
        """Whether the served vectors carry text columns: the text channel, or the new products' alone."""
        return float(self.content_weight) > 0 or float(self.cold_text_weight) > 0

    @property
    def text_for_new_products_only(self) -> bool:
        """The text channel is off and kept for products with no trained id (``cold_text_weight``)."""
        return float(self.content_weight) <= 0 < float(self.cold_text_weight)

    def text_channel_weight(self) -> tuple[Tensor, Tensor]:
        """(weight, decay) of the user side of the text columns: the text channel's, or the new products'."""
        if self.text_for_new_products_only:
            return self.cold_text_weight, self.cold_text_decay
        return self.content_weight, self.content_decay

    @property
    def has_cointeraction_channel(self) -> bool:
        return self.cointeraction_rank > 0 and float(self.cointeraction_weight) > 0

    @property
    def has_attribute_channel(self) -> bool:
        return self.attribute_width > 0 and float(self.attribute_weight) > 0

    @property
    def has_transition_channel(self) -> bool:
        return self.transition_rank > 0 and float(self.transition_weight) > 0

    @property
    def has_transition_lookup(self) -> bool:
        return self.lookup_last > 0 and float(self.lookup_weight) > 0

    def channel_widths(self) -> tuple[int, int, int, int, int]:
        """(d, text width or 0, co-interaction width or 0, attribute width or 0, transition width ``2r`` or 0):
        the layout of the served vectors."""
        return (self.hidden_channels, self.text_dim if self.has_text_channel else 0,
                self.cointeraction_rank if self.has_cointeraction_channel else 0,
                self.attribute_width if self.has_attribute_channel else 0,
                2 * self.transition_rank if self.has_transition_channel else 0)

    def history_text_width(self) -> int:
        """The width of the text rows appended last, read only when a history is encoded (``T`` with the text
        kept for new products only, whose scored text rows are zero for trained products; else 0)."""
        return self.text_dim if self.text_for_new_products_only else 0

    def scored_width(self) -> int:
        """The leading columns of the served vectors a user vector can be non-zero in: all of them but the
        transition channel's from rows and the history-only text rows, which only the user side reads."""
        widths = self.channel_widths()
        return sum(widths) - widths[4] // 2

    def transition_rows(self, histories: Sequence[np.ndarray] | None, num_products: int) -> tuple[Tensor, Tensor]:
        """(from rows, unit to rows), each ``[num_products, r]``, of the transitions in ``histories``
        (:mod:`gnn.transitions`); zeros when ``histories`` is None (products embedded with no history known,
        e.g. new products at serving: nothing is known about what follows them)."""
        if histories is None:
            zeros = torch.zeros(num_products, self.transition_rank)
            return zeros, zeros.clone()
        source, target = self.transitions.rows(histories, num_products)
        return source, F.normalize(target, dim=1)

    def transition_lookup(self, histories: Sequence[np.ndarray] | None, num_products: int,
                          text: Tensor | np.ndarray | None = None) -> TransitionLookup | None:
        """The exact transition scores over the transitions in ``histories`` (the histories known when ranking),
        to add to the dot products of the user vectors of these or later histories; ``None`` when the lookup
        is off or no history is known. With ``text`` (``[num_products, t]``, the products' text features) and
        a ``cold_lookup_gain``, the products no history item was followed by get their text neighbours' columns
        times the gain (:func:`gnn.transitions.lookup_matrix`)."""
        if histories is None or not self.has_transition_lookup:
            return None
        window = int(self.lookup_window)
        windowed = self.transitions.matrix(histories, num_products, window=window, power=float(self.lookup_row_power))
        matrix = lookup_matrix(windowed, text, float(self.cold_lookup_gain))
        # What an explanation may cite is what came right after, whatever window and row power the scores read.
        observed = windowed if window == 1 and float(self.lookup_row_power) == 1.0 else \
            self.transitions.matrix(histories, num_products)
        return TransitionLookup(matrix, float(self.lookup_weight), float(self.lookup_decay), self.lookup_last,
                                observed=None if matrix is observed else observed)

    def attribute_rows(self, data: HeteroData) -> Tensor:
        """``[P, a]`` unit attribute rows of ``data``'s products (:mod:`gnn.attributes`; zero for a product with
        no attribute)."""
        return F.normalize(attribute_rows(data, self.attribute_relations, self.attribute_width), dim=1)

    def cointeraction_rows(self, data: HeteroData) -> Tensor:
        """``[P, k]`` unit rows of the co-interaction spectrum of ``data``'s interactions (for a product with none,
        the row its text predicts; zero without text)."""
        return F.normalize(self.spectrum.rows(data), dim=1)

    def served_item_vectors(self, data: HeteroData, item_vecs: Tensor | None = None,
                            histories: Sequence[np.ndarray] | None = None) -> Tensor:
        """``[P, d']`` what is scored: :meth:`output_vectors`, products with no trained id scaled by
        ``cold_scale``, the unit text vectors appended when the text channel is on (those of products with no
        trained id times ``cold_text_gain``; with the text kept for new products only, trained products' rows
        zero), then the co-interaction rows, the attribute rows, and the to and
        from rows of :meth:`transition_rows` over ``histories``, each when its channel is on; last, with the text
        kept for new products only, every product's unit text (:meth:`history_text_width`)."""
        vecs = self.output_vectors(self.item_vectors(data) if item_vecs is None else item_vecs)
        new_only = self.text_for_new_products_only
        cold_text = self.has_text_channel and not new_only and float(self.cold_text_gain) != 1.0
        if float(self.cold_scale) != 1.0 or cold_text or new_only:
            trained = self.items.trained_mask(data).unsqueeze(1)
        if float(self.cold_scale) != 1.0:
            vecs = torch.where(trained, vecs, vecs * self.cold_scale)
        unit_text = F.normalize(data["product"].x.float(), dim=1) if self.has_text_channel else None
        if unit_text is not None:
            text = unit_text
            if new_only:
                text = torch.where(trained, torch.zeros_like(text), text)
            elif cold_text:
                text = torch.where(trained, text, text * self.cold_text_gain)
            vecs = torch.cat([vecs, text], dim=1)
        if self.has_cointeraction_channel:
            vecs = torch.cat([vecs, self.cointeraction_rows(data)], dim=1)
        if self.has_attribute_channel:
            vecs = torch.cat([vecs, self.attribute_rows(data)], dim=1)
        if self.has_transition_channel:
            source, target = self.transition_rows(histories, vecs.size(0))
            vecs = torch.cat([vecs, target, source], dim=1)
        if new_only and unit_text is not None:  # what a history's text is read from: every product's
            vecs = torch.cat([vecs, unit_text], dim=1)
        return vecs

    def history_text(self, text: Tensor, histories: Sequence[np.ndarray], decay: float | None = None) -> Tensor:
        """``[len(histories), T]`` unit vectors of the decayed sum of the ``[P, T]`` text rows (each made a unit
        vector) of each history's last ``max_len`` items (newest weight 1, each older one ``decay`` times the
        next; default ``content_decay``); zeros for an empty history. Any per-product rows will do (the
        co-interaction channel passes its own)."""
        gamma = float(self.content_decay) if decay is None else decay
        out = text.new_zeros(len(histories), text.size(1))
        for start in range(0, len(histories), self.HISTORY_BATCH):
            batch = [h[-self.max_len:] for h in histories[start:start + self.HISTORY_BATCH]]
            rows, items, weights = history_weights(batch, gamma)
            if not items.numel():
                continue
            # A sparse [B, P'] weight matrix over the P' products these histories name: only their rows are read
            # and made unit vectors (a request reads ~50 rows, not the whole [P, T] table), and no padded
            # [B, max_len, T] gather is made (amazon-beauty's histories are mostly far shorter than max_len).
            products, columns = torch.unique(items, return_inverse=True)
            unit_rows = F.normalize(text[products].float(), dim=-1)
            matrix = torch.sparse_coo_tensor(torch.stack([rows, columns]), weights, (len(batch), products.numel()),
                                             check_invariants=False)  # in range by construction
            out[start:start + len(batch)] = F.normalize(torch.sparse.mm(matrix, unit_rows), dim=1).to(text.dtype)
        return out

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
        # Only the rows of seq are read (padding, index P, reads the last row and is zeroed): serving one history must
        # not copy the whole [P, d] table per request.
        real = (seq < item_vecs.size(0)).unsqueeze(-1)
        rows = self.output_vectors(item_vecs[seq.clamp(max=item_vecs.size(0) - 1)])
        return self.encoder(rows * real, lengths)

    def user_vectors(self, item_vecs: Tensor, histories: Sequence[np.ndarray], batch_size: int = 1024) -> Tensor:
        """``[len(histories), d']``: the state after each history's last ``max_len`` items (a unit vector with
        cosine scores), then, where ``item_vecs`` carry the channels (``d' > d``, laid out as
        :meth:`channel_widths` says), ``content_weight`` times the history's text vector and
        ``cointeraction_weight`` times its co-interaction vector (:meth:`history_text`); zeros for an empty
        history."""
        widths, history_width = self.channel_widths(), self.history_text_width()
        d = widths[0]
        if item_vecs.size(1) > d:
            if item_vecs.size(1) != sum(widths) + history_width:
                raise ValueError(f"item vectors are {item_vecs.size(1)} wide; the model's channels make "
                                 f"{' + '.join(map(str, (*widths, history_width)))}")
            parts = [self.user_vectors(item_vecs[:, :d], histories, batch_size)]
            start = d
            text_weight, text_decay = self.text_channel_weight()
            channels = zip(widths[1:4], (text_weight, self.cointeraction_weight, self.attribute_weight),
                           (text_decay, self.cointeraction_decay, self.attribute_decay), strict=True)
            for index, (width, weight, decay) in enumerate(channels):
                if width:
                    block = item_vecs[:, start:start + width]
                    if index == 0 and history_width:  # the text a history is read from: the last rows
                        block = item_vecs[:, item_vecs.size(1) - history_width:]
                    parts.append(weight * self.history_text(block, histories, decay=float(decay)))
                    start += width
            if widths[4]:  # [to rows | from rows]: the user side is the history's from rows, then zeros
                r = widths[4] // 2
                source = item_vecs[:, start + r:start + 2 * r]
                history = self.history_text(source, histories, decay=float(self.transition_decay))
                parts += [self.transition_weight * history, history.new_zeros(len(histories), r)]
            if history_width:
                parts.append(item_vecs.new_zeros(len(histories), history_width))
            return torch.cat(parts, dim=1)
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
        """(user vectors after ``histories``, served item vectors): the two sides of the dot product."""
        item_vecs = self.served_item_vectors(data, histories=histories)
        return self.user_vectors(item_vecs, histories), item_vecs


def history_weights(histories: Sequence[np.ndarray], gamma: float) -> tuple[Tensor, Tensor, Tensor]:
    """The decay weights of each history's items as ``[N]`` (history index, product, weight) triples: its newest
    item 1, each older one ``gamma`` times the next; a product read twice gives two triples (a sparse product
    sums them)."""
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    total = int(lengths.sum())
    age = np.repeat(np.cumsum(lengths), lengths) - 1 - np.arange(total)  # 0 for each history's newest item
    rows = np.repeat(np.arange(len(histories), dtype=np.int64), lengths)
    items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if total else np.zeros(0, np.int64)
    weights = np.power(float(gamma), age).astype(np.float32)
    return torch.from_numpy(rows), torch.from_numpy(items), torch.from_numpy(weights)
