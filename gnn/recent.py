"""How much a user's recent events weigh against their long history: chosen on validation, kept in the bundle.

Serving blends two unit vectors, ``v = (1 - w) * history + w * recent``:

- a graph model (gnn, lightgcn, bpr_mf, ...): ``history`` is the user's trained embedding, ``recent`` the pooled
  vectors of the products of their events since training;
- a sequence model (kg_sasrec): ``history`` is its encoding of the ordered history alone, ``recent`` its encoding
  of the history followed by the events (what the model alone would serve, ``w = 1``).

A fixed ``w`` got it wrong both ways: the old graph-model blend (``w = 0.5``, the two vectors added) let three
events replace all ten recommendations of a user with six purchases. :func:`choose_recent_weight` replays the
situation on validation instead: for every user with at least :data:`MIN_HISTORY` train items and a valid item,
the last :data:`RECENT_EVENTS` train items play the events, the model reads the rest as the history (a graph model
reads the train graph without those interactions), and each weight of :data:`WEIGHT_GRID` is scored by the valid
item's NDCG@10. The model's parameters were fitted with those items, so ``history`` knows a little of them; the
chosen weight errs towards the history, the side a long history should err on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnn.data import set_interactions
from gnn.metrics import embedding_score_fn, evaluate_ranking
from gnn.models.kg_sasrec import KGSASRec
from gnn.prepared import Prepared

#: Train items that play a user's recent events on validation (the issue's case: three events).
RECENT_EVENTS = 3
#: Users replayed: at least this many train items, so that a history remains besides the events.
MIN_HISTORY = 6
#: The weights tried (0: events ignored; 1: events alone for a graph model, the model alone for a sequence one).
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: Bundles written before the weight was chosen: the blends they were served with.
DEFAULT_WEIGHT = {"sequence": 1.0, "graph": 0.5}


@dataclass(frozen=True)
class RecentBlend:
    """The chosen weight, the valid NDCG@10 of every weight tried, and the users replayed."""

    weight: float
    valid_ndcg10: dict[str, float]
    users: int
    events: int = RECENT_EVENTS

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "valid_ndcg@10": self.valid_ndcg10, "users": self.users,
                "events": self.events, "grid": list(WEIGHT_GRID)}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def blend(history: np.ndarray, recent: np.ndarray | None, weight: float) -> np.ndarray:
    """``(1 - weight) * history + weight * recent`` of the unit vectors (rows or single vectors); ``history``
    alone (as a unit vector) when there is nothing recent."""
    h = _unit_rows(np.asarray(history, dtype=np.float32))
    if recent is None:
        return h
    return ((1.0 - weight) * h + weight * _unit_rows(np.asarray(recent, dtype=np.float32))).astype(np.float32)


def weight_of(metrics: dict[str, Any], model: str) -> float:
    """The blend weight a bundle's metrics document chose; the old fixed blend where it chose none."""
    chosen = metrics.get("recent_blend", {}).get("weight")
    if chosen is not None:
        return float(chosen)
    return DEFAULT_WEIGHT["sequence" if model == "kg_sasrec" else "graph"]


def _replayed(prepared: Prepared) -> tuple[np.ndarray, list[np.ndarray]]:
    """Users replayed (a valid item and :data:`MIN_HISTORY` train items) and every user's train history."""
    histories = prepared.histories("valid")
    has_valid = np.zeros(prepared.split.num_users, dtype=bool)
    has_valid[prepared.split.valid[0]] = True
    users = np.array([u for u, h in enumerate(histories) if has_valid[u] and len(h) >= MIN_HISTORY], dtype=np.int64)
    return users, histories


def _graph_vectors(model: Any, prepared: Prepared, users: np.ndarray,
                   histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """(history vectors, pooled event vectors) of ``users`` and the product vectors, for a graph model that
    reads the train graph without the replayed users' last :data:`RECENT_EVENTS` interactions."""
    n = prepared.split.num_products
    held = np.concatenate([u * n + histories[u][-RECENT_EVENTS:] for u in users])
    train = prepared.split.train
    keep = ~np.isin(train[0].astype(np.int64) * n + train[1], held)
    graph = copy.copy(prepared.data)
    set_interactions(graph, train[:, keep])
    user_emb, product_emb = model.embed(graph)
    unit = _unit_rows(product_emb.numpy())
    pooled = np.stack([unit[histories[u][-RECENT_EVENTS:]].mean(0) for u in users])
    return user_emb.numpy()[users], pooled, product_emb


def _sequence_vectors(model: KGSASRec, prepared: Prepared, users: np.ndarray,
                      histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """(encoding of the history without the events, encoding with them) of ``users``, and the item vectors."""
    item_vecs = model.item_vectors(prepared.data)
    before = model.user_vectors(item_vecs, [histories[u][:-RECENT_EVENTS] for u in users])
    after = model.user_vectors(item_vecs, [histories[u] for u in users])
    return before.numpy(), after.numpy(), model.output_vectors(item_vecs)


def choose_recent_weight(model: Any, prepared: Prepared, *, batch_size: int = 2048) -> RecentBlend | None:
    """The weight of :data:`WEIGHT_GRID` with the best valid NDCG@10 when the last train items play the recent
    events (the smaller weight on a tie); ``None`` when no user qualifies or the model has no user vectors."""
    users, histories = _replayed(prepared)
    if not len(users) or (not hasattr(model, "embed") and not isinstance(model, KGSASRec)):
        return None
    if isinstance(model, torch.nn.Module):
        model.eval()
    with torch.no_grad():
        if isinstance(model, KGSASRec):
            history, recent, products = _sequence_vectors(model, prepared, users, histories)
        else:
            history, recent, products = _graph_vectors(model, prepared, users, histories)
    split = prepared.split
    in_replay = np.isin(split.valid[0], users)
    positives = split.valid[:, in_replay]
    row_of = np.full(split.num_users, -1, dtype=np.int64)
    row_of[users] = np.arange(len(users))
    positives = np.stack([row_of[positives[0]], positives[1]])
    exclude = split.train[:, np.isin(split.train[0], users)]
    exclude = np.stack([row_of[exclude[0]], exclude[1]])
    scores: dict[str, float] = {}
    for w in WEIGHT_GRID:
        vectors = torch.from_numpy(blend(history, recent, w))
        metrics = evaluate_ranking(embedding_score_fn(vectors, products.detach().float()), positives, len(users),
                                   split.num_products, exclude=[exclude],
                                   candidates=split.warm_mask & prepared.snapshot.active, batch_size=batch_size)
        scores[f"{w:g}"] = round(metrics["ndcg@10"], 6)
    best = max(WEIGHT_GRID, key=lambda w: (scores[f"{w:g}"], -w))
    return RecentBlend(best, scores, len(users))
