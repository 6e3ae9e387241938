"""Evaluation of any model on a prepared split: full ranking, each set scored with what its phase knows."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import Tensor

from gnn.data import Phase
from gnn.metrics import GridScoreFn, embedding_score_fn, evaluate_ranking, evaluate_ranking_grid
from gnn.models.kg_sasrec import KGSASRec
from gnn.prepared import Prepared

#: ``phase -> (user embeddings [U, d], product embeddings [P, d])``: what a model produces when it ranks for
#: that phase (its input graph or history differs by phase, see :meth:`Prepared.graph_for`).
EmbedFn = Callable[[Phase], tuple[Tensor, Tensor]]
#: The phase whose embeddings each evaluation set uses.
EVAL_PHASE: dict[str, Phase] = {"valid": "valid", "test": "test", "cold": "test"}


def evaluate_phases(prepared: Prepared, embed: EmbedFn, *, batch_size: int = 2048,
                    which: tuple[str, ...] = ("test", "cold")) -> dict[str, dict[str, float]]:
    """Full-ranking metrics of dot-product scores, each set scored with the embeddings of its phase.

    - ``valid``: the valid item among warm active products, train items excluded, the model reading train;
    - ``test``: the test item among warm active products, train and valid items excluded, the model reading
      train + valid (the valid interaction is history by then, as it would be in serving);
    - ``cold``: every interaction with a cold product (one the model never saw an interaction of), ranked
      among *all* active products as a new product must compete in serving, train and valid items excluded.
    """
    cache: dict[Phase, tuple[Tensor, Tensor]] = {}
    out: dict[str, dict[str, float]] = {}
    for name in which:
        task = _ranking_task(prepared, name)
        if task is None:
            continue
        phase = EVAL_PHASE[name]
        if phase not in cache:
            cache[phase] = tuple(e.detach() for e in embed(phase))  # type: ignore[assignment]
        out[name] = evaluate_ranking(embedding_score_fn(*cache[phase]), **task, batch_size=batch_size)
    return out


def evaluate_grid(prepared: Prepared, score_grid: GridScoreFn, *, which: str = "valid",
                  batch_size: int = 2048) -> dict[Hashable, dict[str, float]]:
    """The metrics of every scorer ``score_grid`` yields (:func:`gnn.metrics.evaluate_ranking_grid`) on the
    evaluation set ``which``, masked as :func:`evaluate_phases` masks it: one pass over the users for a whole
    grid of settings that share most of their scores."""
    task = _ranking_task(prepared, which)
    if task is None:
        return {}
    return evaluate_ranking_grid(score_grid, **task, batch_size=batch_size)


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
