"""Evaluation of any model on a prepared split: full ranking, each set scored with what its phase knows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gnn.data import Phase
from gnn.metrics import embedding_score_fn, evaluate_ranking
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
    split, active = prepared.split, prepared.snapshot.active
    warm = split.warm_mask
    cache: dict[Phase, tuple[Tensor, Tensor]] = {}
    out: dict[str, dict[str, float]] = {}
    for name in which:
        if name not in EVAL_PHASE:
            raise ValueError(f"unknown evaluation set {name!r}")
        if name == "cold" and not split.cold.shape[1]:
            continue
        phase = EVAL_PHASE[name]
        if phase not in cache:
            cache[phase] = tuple(e.detach() for e in embed(phase))  # type: ignore[assignment]
        score = embedding_score_fn(*cache[phase])
        positives = {"valid": split.valid, "test": split.test, "cold": split.cold}[name]
        exclude = [split.train] if name == "valid" else [split.train, split.valid]
        candidates = active if name == "cold" else warm & active
        out[name] = evaluate_ranking(score, positives, split.num_users, split.num_products, exclude=exclude,
                                     candidates=candidates, batch_size=batch_size)
    return out


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
