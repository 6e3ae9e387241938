"""Evaluation of any model on a prepared split: full ranking, each set scored with what its phase knows."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnn.baselines.ease import EASE
from gnn.data import Phase
from gnn.metrics import GridScoreFn, ScoreFn, embedding_score_fn, evaluate_ranking, evaluate_ranking_grid
from gnn.models.kg_sasrec import KGSASRec
from gnn.prepared import Prepared
from gnn.transitions import TransitionLookup

#: ``phase -> (user embeddings [U, d], product embeddings [P, d])``, or with a third element, a score added to
#: their dot products (``users [B] -> [B, P]``, see :func:`ranking_inputs`): what a model produces when it ranks
#: for that phase (its input graph or history differs by phase, see :meth:`Prepared.graph_for`).
EmbedFn = Callable[[Phase], tuple[Tensor, Tensor] | tuple[Tensor, Tensor, ScoreFn | None]]
#: The phase whose embeddings each evaluation set uses.
EVAL_PHASE: dict[str, Phase] = {"valid": "valid", "test": "test", "cold": "test"}


def evaluate_phases(prepared: Prepared, embed: EmbedFn, *, batch_size: int = 2048,
                    which: tuple[str, ...] = ("test", "cold"), ndcg_only: bool = False) -> dict[str, dict[str, float]]:
    """Full-ranking metrics of dot-product scores, each set scored with the embeddings of its phase.

    - ``valid``: the valid item among warm active products, train items excluded, the model reading train;
    - ``test``: the test item among warm active products, train and valid items excluded, the model reading
      train + valid (the valid interaction is history by then, as it would be in serving);
    - ``cold``: every interaction with a cold product (one the model never saw an interaction of), ranked
      among *all* active products as a new product must compete in serving, train and valid items excluded.

    ``ndcg_only``: NDCG@k only (:func:`gnn.metrics.evaluate_ranking`), for loops that choose by it.
    """
    cache: dict[Phase, ScoreFn] = {}
    out: dict[str, dict[str, float]] = {}
    for name in which:
        task = _ranking_task(prepared, name)
        if task is None:
            continue
        phase = EVAL_PHASE[name]
        if phase not in cache:
            user_emb, product_emb, *boost = embed(phase)
            cache[phase] = embedding_score_fn(user_emb.detach(), product_emb.detach(), *boost)
        out[name] = evaluate_ranking(cache[phase], **task, batch_size=batch_size, ndcg_only=ndcg_only)
    return out


def evaluate_grid(prepared: Prepared, score_grid: GridScoreFn, *, which: str = "valid", batch_size: int = 2048,
                  max_users: int | None = None, ndcg_only: bool = False) -> dict[Hashable, dict[str, float]]:
    """The metrics of every scorer ``score_grid`` yields (:func:`gnn.metrics.evaluate_ranking_grid`) on the
    evaluation set ``which``, masked as :func:`evaluate_phases` masks it: one pass over the users for a whole
    grid of settings that share most of their scores. ``max_users``: over a seeded sample of that many of the
    set's users (all of them when there are fewer). ``ndcg_only``: as :func:`evaluate_phases`."""
    task = _ranking_task(prepared, which)
    if task is None:
        return {}
    if max_users is not None:
        task["positives"] = sample_users(task["positives"], max_users)
    return evaluate_ranking_grid(score_grid, **task, batch_size=batch_size, ndcg_only=ndcg_only)


def sample_users(positives: np.ndarray, max_users: int, seed: int = 0) -> np.ndarray:
    """The ``[2, N]`` (user, product) positives of a seeded sample of ``max_users`` of their users (all when
    there are no more than that)."""
    users = np.unique(positives[0])
    if len(users) <= max_users:
        return positives
    chosen = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
    return positives[:, np.isin(positives[0], chosen)]


def _ranking_task(prepared: Prepared, name: str) -> dict[str, Any] | None:
    """The arguments of :func:`evaluate_ranking` for evaluation set ``name`` (its positives, the known items
    excluded, the candidate products); ``None`` for an empty cold slice."""
    if name not in EVAL_PHASE:
        raise ValueError(f"unknown evaluation set {name!r}")
    split, active = prepared.split, prepared.snapshot.active
    if name == "cold" and not split.cold.shape[1]:
        return None
    positives = {"valid": split.valid, "test": split.test, "cold": split.cold}[name]
    exclude = [split.train] if name == "valid" else [split.train, split.valid]
    candidates = active if name == "cold" else split.warm_mask & active
    return {"positives": positives, "num_users": split.num_users, "num_products": split.num_products,
            "exclude": exclude, "candidates": candidates}


def evaluate_embeddings(prepared: Prepared, user_emb: Tensor, product_emb: Tensor, *, batch_size: int = 2048,
                        which: tuple[str, ...] = ("test", "cold")) -> dict[str, dict[str, float]]:
    """:func:`evaluate_phases` for fixed embeddings (the same vectors for every phase, e.g. a bundle's)."""
    return evaluate_phases(prepared, lambda phase: (user_emb, product_emb), batch_size=batch_size, which=which)



def embed_for(model: Any, prepared: Prepared, phase: Phase) -> tuple[Tensor, Tensor]:
    """The model's (user, product) vectors when ranking for ``phase``, in eval mode, without gradients: a graph
    model reads that phase's graph, a sequence model also that phase's histories."""
    graph = prepared.graph_for(phase)
    if isinstance(model, torch.nn.Module):
        model.eval()
    with torch.no_grad():
        if isinstance(model, KGSASRec):
            user_emb, product_emb = model.embed_histories(graph, prepared.histories(phase))
        else:
            user_emb, product_emb = model.embed(graph)
    return user_emb.detach(), product_emb.detach()


def ranking_inputs(model: Any, prepared: Prepared, phase: Phase) -> tuple[Tensor, Tensor, ScoreFn | None]:
    """:func:`embed_for` and the score a sequence model adds beside the dot products when ranking for ``phase``
    (its transition lookup over that phase's histories; ``None`` for every other model or with the lookup
    off): what :func:`evaluate_phases` and rankings take. EASE, where it ranks by its exact scores, gives
    zero-width vectors and those scores (:class:`gnn.baselines.ease.ItemRegressionScores`)."""
    if isinstance(model, EASE):
        graph = prepared.graph_for(phase)
        exact = model.score_fn(graph)
        if exact is not None:  # no vectors needed: the factors' x W product would be computed for nothing
            return (torch.zeros(int(graph["user"].num_nodes), 0), torch.zeros(int(graph["product"].num_nodes), 0),
                    exact)
    user_emb, product_emb = embed_for(model, prepared, phase)
    text = getattr(prepared.graph_for(phase)["product"], "x", None)
    return user_emb, product_emb, history_boost(model, prepared.histories(phase), product_emb.size(0), text)


@dataclass(frozen=True)
class HistoryBoost:
    """``users [B] -> [B, P]`` a transition lookup's scores for users with these ``histories`` (a class, not a
    closure: a :class:`gnn.train.TrainResult` carrying it is sent back from a training process)."""

    lookup: TransitionLookup
    histories: list[np.ndarray]

    def __call__(self, users: Tensor) -> Tensor:
        return self.lookup.scores([self.histories[u] for u in users.tolist()])


def history_boost(model: Any, histories: list[np.ndarray], num_products: int,
                  text: Tensor | None = None) -> HistoryBoost | None:
    """The transition lookup of a :class:`KGSASRec` for users with these ``histories`` (the transitions read
    from the same histories; with the products' ``text``, new products get their neighbours' columns:
    :meth:`KGSASRec.transition_lookup`); ``None`` when there is none."""
    lookup = model.transition_lookup(histories, num_products, text) if isinstance(model, KGSASRec) else None
    return None if lookup is None else HistoryBoost(lookup, histories)
