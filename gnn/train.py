"""Training and evaluation of every model in one harness, on one split.

:func:`prepare_split` builds a split's message-passing graph once; :func:`train_model`
trains (or, for popularity and text-only, computes) one model on it with BPR and sampled negatives,
early-stopping on valid NDCG@10, and evaluates the best state on the test split and on the cold slice.

Full-batch: each gradient step encodes the whole graph, then scores a batch of (user, positive, negatives)
triples. Seeded: the same config, seed and snapshot give the same metrics.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.allocator import training_allocator
from gnn.baselines.ease import EASE
from gnn.config import TrainConfig
from gnn.data import Phase
from gnn.evaluation import embed_for, evaluate_phases, ranking_inputs
from gnn.fitting import PRUNED_KEY, fit_with_early_stopping
from gnn.metrics import ScoreFn, embedding_score_fn
from gnn.models.kg_sasrec import KGSASRec
from gnn.models.registry import build_model
from gnn.prepared import Prepared
from gnn.recent import RecentBlend
from gnn.train_sequence import fit_sequence_model


@dataclass
class TrainResult:
    """The outcome of :func:`train_model`."""

    config: TrainConfig
    model: Any
    user_emb: Tensor
    product_emb: Tensor
    metrics: dict[str, dict[str, float]]
    #: What the bundle serves: the model over everything known (train, valid and test interactions), made by
    #: :meth:`serving_embeddings` for the model that is served only. The ``user_emb`` / ``product_emb`` above
    #: are the test phase's (train + valid), for rankings to evaluate.
    serve_user_emb: Tensor | None = None
    serve_product_emb: Tensor | None = None
    #: The test phase's score beside the dot products of ``user_emb`` and ``product_emb`` (a sequence model's
    #: transition lookup, :func:`gnn.evaluation.ranking_inputs`); None: the dot products are the scores.
    test_boost: ScoreFn | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    #: The weight of recent events against the long history, chosen on validation for a served model
    #: (:func:`gnn.recent.choose_recent_weight`, set when the bundle is written).
    recent_blend: RecentBlend | None = None

    @property
    def stopped_by(self) -> str:
        """Why training ended: ``pruned`` (far behind the leading candidate), ``early stopping``, ``epoch cap``
        ``closed form`` (EASE: one solve, no epochs) or ``not trained`` (popularity, text-only)."""
        if not self.history:
            return "closed form" if self.config.model == "ease" else "not trained"
        if PRUNED_KEY in self.history[-1]:
            return "pruned"
        return "epoch cap" if len(self.history) >= self.config.epochs else "early stopping"

    def serving_embeddings(self, prepared: Prepared) -> tuple[Tensor, Tensor]:
        """(users ``[U, d]``, products ``[P, d]``) over everything known, made once: only the served candidate
        needs them, and for EASE they are one more dense solve (36-47 s on amazon-beauty, one core)."""
        if self.serve_user_emb is None or self.serve_product_emb is None:
            self.serve_user_emb, self.serve_product_emb = embed_for(self.model, prepared, "serve")
        return self.serve_user_emb, self.serve_product_emb

    def test_score_fn(self) -> ScoreFn:
        """``users [B] -> [B, P]`` the test phase's scores, as the test figures of ``metrics`` were computed."""
        return embedding_score_fn(self.user_emb, self.product_emb, self.test_boost)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` of /proc/self/status where there is one.

    Not ``ru_maxrss`` first: Linux carries it over fork and exec, so a process started by a parent that had
    loaded a big graph would report the parent's peak (bench/peers runs each model in a child process).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def bpr_loss(user_emb: Tensor, product_emb: Tensor, users: Tensor, pos: Tensor, neg: Tensor,
             reg: float, *, reg_emb: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """BPR: ``-log sigmoid(s(u, pos) - s(u, neg))`` averaged over the ``[B, K]`` negatives, plus
    ``reg * (|u|^2 + |pos|^2 + mean_k |neg_k|^2) / B`` on ``reg_emb`` (user, product) when given (LightGCN
    regularises layer 0, the parameters), else on the scored embeddings."""
    u, p, n = user_emb[users], product_emb[pos], product_emb[neg]
    pos_score = (u * p).sum(-1, keepdim=True)
    neg_score = torch.einsum("bd,bkd->bk", u, n)
    loss = -F.logsigmoid(pos_score - neg_score).mean()
    if reg:
        if reg_emb is not None:
            u, p, n = reg_emb[0][users], reg_emb[1][pos], reg_emb[1][neg]
        loss = loss + reg * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum() / n.size(1)) / users.numel()
    return loss


def _param_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """One Adam group, or two when ``config.text_lr`` sets the text projections' (``proj.*``) own rate."""
    if config.text_lr is None:
        return [{"params": list(model.parameters())}]
    named = list(model.named_parameters())
    text = [p for n, p in named if n.startswith("proj.")]
    rest = [p for n, p in named if not n.startswith("proj.")]
    return [{"params": rest}, {"params": text, "lr": config.text_lr}]


def _embed_for_loss(model: Any, data: HeteroData,
                    reg_on: str) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor] | None]:
    """Training-mode embeddings, plus layer 0 when ``reg_on == "input"`` and the model exposes it."""
    model.train(True)
    if reg_on == "input" and hasattr(model, "embed_with_inputs"):
        user_emb, product_emb, user0, product0 = model.embed_with_inputs(data)
        return user_emb, product_emb, (user0, product0)
    user_emb, product_emb = model.embed(data)
    return user_emb, product_emb, None


def _train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: HeteroData, train: Tensor,
                 warm: Tensor, config: TrainConfig, gen: torch.Generator) -> float:
    """One pass over the ``[2, E]`` train interactions in random batches, each positive against
    ``config.negatives`` warm products drawn uniformly; returns the mean BPR loss."""
    total, steps = 0.0, 0
    for batch in torch.randperm(train.size(1), generator=gen).split(config.batch_size):
        users, pos = train[0, batch], train[1, batch]
        neg = warm[torch.randint(len(warm), (len(batch), config.negatives), generator=gen)]
        user_emb, product_emb, layer0 = _embed_for_loss(model, data, config.reg_on)
        loss = bpr_loss(user_emb, product_emb, users, pos, neg, config.reg, reg_emb=layer0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, steps = total + loss.item(), steps + 1
    return total / max(steps, 1)


def _fit(model: Any, prepared: Prepared, config: TrainConfig, gen: torch.Generator,
         progress: bool, stop_below: float | None) -> tuple[list[dict[str, float]], int]:
    """BPR training of a :class:`torch.nn.Module` recommender with early stopping on valid NDCG@10."""
    data, split = prepared.data, prepared.split
    optimizer = torch.optim.Adam(_param_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    train = torch.from_numpy(split.train)
    warm = torch.from_numpy(np.flatnonzero(split.warm_mask))
    return fit_with_early_stopping(model, prepared, config,
                                   lambda: _train_epoch(model, optimizer, data, train, warm, config, gen),
                                   progress=progress, stop_below=stop_below)


@training_allocator()  # freed training buffers are reused, not faulted in again every step (gnn.allocator)
def train_model(prepared: Prepared, config: TrainConfig, *, progress: bool = True,
                evaluate: tuple[str, ...] = ("test", "cold"),
                init: Callable[[Any], None] | None = None, stop_below: float | None = None) -> TrainResult:
    """Train ``config.model`` on ``prepared`` and evaluate its best state (by valid NDCG@10).

    Args:
        prepared: split and graph (from :func:`prepare_split`).
        config: model and optimisation settings.
        progress: show a progress bar over epochs.
        evaluate: evaluation sets for the final metrics (``valid`` is always included).
        init: called with the freshly built model before training (e.g. a warm start from a bundle's weights).
        stop_below: stop at ``config.prune_after`` epochs if validation NDCG@10 is still below this
            (:func:`gnn.fitting.fit_with_early_stopping`; ``auto`` passes its bar for a trailing candidate).
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = build_model(config, prepared.shape)
    if init is not None:
        init(model)
    history: list[dict[str, float]] = []
    best_epoch = 0
    start = time.perf_counter()
    if config.trainable and config.epochs > 0 and prepared.split.train.shape[1] > 0:
        if isinstance(model, KGSASRec):
            history, best_epoch = fit_sequence_model(model, prepared, config, progress=progress,
                                                     stop_below=stop_below)
        else:
            history, best_epoch = _fit(model, prepared, config, gen, progress, stop_below)
    elif isinstance(model, EASE):
        model.fit(prepared.data)  # the solve is its training (the train graph's; the other phases' follow)
    train_seconds = time.perf_counter() - start

    embedded: dict[Phase, tuple[Tensor, Tensor, ScoreFn | None]] = {}

    def embed(phase: Phase) -> tuple[Tensor, Tensor, ScoreFn | None]:
        if phase not in embedded:  # the test phase's are evaluated and then kept: computed once
            embedded[phase] = ranking_inputs(model, prepared, phase)
        return embedded[phase]

    metrics = evaluate_phases(prepared, embed, batch_size=config.eval_batch_size,
                              which=("valid", *[w for w in evaluate if w != "valid"]))
    user_emb, product_emb, test_boost = embed("test")
    return TrainResult(config=config, model=model, user_emb=user_emb, product_emb=product_emb, metrics=metrics,
                       test_boost=test_boost, history=history,
                       best_epoch=best_epoch, train_seconds=train_seconds, peak_rss_mb=peak_rss_mb())


def model_meta(prepared: Prepared) -> dict[str, Any]:
    """What :func:`gnn.models.registry.model_from_bundle` needs besides the config (``model_meta.json``)."""
    return prepared.shape.to_meta()
