"""Training and evaluation of every model in one harness, on one split.

:func:`prepare_split` builds a split's message-passing graph once; :func:`train_model`
trains (or, for popularity and text-only, computes) one model on it with BPR and sampled negatives,
early-stopping on valid NDCG@10, and evaluates the best state on the test split and on the cold slice.

Full-batch: each gradient step encodes the whole graph, then scores a batch of (user, positive, negatives)
triples. Seeded: the same config, seed and snapshot give the same metrics.
"""

from __future__ import annotations

import copy
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.config import TrainConfig
from gnn.data import GraphSnapshot, Split, to_hetero_data
from gnn.metrics import embedding_score_fn, evaluate_ranking
from gnn.models import Recommender
from gnn.models.registry import ModelShape, build_model
from kg.progress import step


@dataclass
class Prepared:
    """A snapshot with its split and its train message-passing graph (shared by every model)."""

    snapshot: GraphSnapshot
    split: Split
    data: HeteroData

    @property
    def shape(self) -> ModelShape:
        """What sizes a model trained on this graph (a bundle's ``model_meta.json``)."""
        return ModelShape.of_graph(self.data, self.snapshot.num_users, self.snapshot.num_products)

    @property
    def text_dims(self) -> dict[str, int]:
        """Node type -> text feature width, for the node types that carry text."""
        return dict(self.shape.text_dims)


def prepare_split(snapshot: GraphSnapshot, split: Split,
                  text_features: np.ndarray | Mapping[str, np.ndarray] | None, config: TrainConfig) -> Prepared:
    """The train graph of a given ``split`` with every graph option of ``config`` (the one place that maps
    config fields to :func:`to_hetero_data` arguments; :func:`gnn.pipeline.prepare_with_text` uses it too)."""
    return Prepared(snapshot, split, to_hetero_data(snapshot, split, text_features,
                                                    min_entity_degree=config.min_entity_degree))


def evaluate_embeddings(prepared: Prepared, user_emb: Tensor, product_emb: Tensor, *, batch_size: int = 2048,
                        which: tuple[str, ...] = ("test", "cold")) -> dict[str, dict[str, float]]:
    """Full-ranking metrics of dot-product scores.

    - ``valid``: the valid item among warm active products, train items excluded;
    - ``test``: the test item among warm active products, train and valid items excluded;
    - ``cold``: every interaction with a cold product, ranked among the cold active products only (the
      products the model never saw an interaction of: what inductive embeddings are for).
    """
    split, active = prepared.split, prepared.snapshot.active
    warm = split.warm_mask
    score = embedding_score_fn(user_emb.detach(), product_emb.detach())
    out: dict[str, dict[str, float]] = {}
    for name in which:
        if name == "valid":
            out[name] = evaluate_ranking(score, split.valid, split.num_users, split.num_products,
                                         exclude=[split.train], candidates=warm & active, batch_size=batch_size)
        elif name == "test":
            out[name] = evaluate_ranking(score, split.test, split.num_users, split.num_products,
                                         exclude=[split.train, split.valid], candidates=warm & active,
                                         batch_size=batch_size)
        elif name == "cold":
            if split.cold.shape[1]:
                out[name] = evaluate_ranking(score, split.cold, split.num_users, split.num_products,
                                             exclude=[split.train], candidates=~warm & active,
                                             batch_size=batch_size)
        else:
            raise ValueError(f"unknown evaluation set {name!r}")
    return out


@dataclass
class TrainResult:
    """The outcome of :func:`train_model`."""

    config: TrainConfig
    model: Any
    user_emb: Tensor
    product_emb: Tensor
    metrics: dict[str, dict[str, float]]
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    peak_rss_mb: float = 0.0


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


def _embed(model: Recommender, data: HeteroData, train: bool) -> tuple[Tensor, Tensor]:
    if isinstance(model, torch.nn.Module):
        model.train(train)
        if not train:
            with torch.no_grad():
                return model.embed(data)
    return model.embed(data)


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
         progress: bool) -> tuple[list[dict[str, float]], int]:
    """Train ``model`` (a :class:`torch.nn.Module` recommender) until valid NDCG@10 stops improving and leave
    it in its best state.

    Returns ``(history, best epoch)``: one row per epoch (loss, seconds and, on evaluated epochs, valid metrics).
    """
    data, split = prepared.data, prepared.split
    optimizer = torch.optim.Adam(_param_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    train = torch.from_numpy(split.train)
    warm = torch.from_numpy(np.flatnonzero(split.warm_mask))
    best_score, best_state, best_epoch, waited = -1.0, copy.deepcopy(model.state_dict()), 0, 0
    history: list[dict[str, float]] = []
    with step(f"training {config.model}", config.epochs, enabled=None if progress else False) as bar:
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            loss = _train_epoch(model, optimizer, data, train, warm, config, gen)
            row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - t0}
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                valid = evaluate_embeddings(prepared, *_embed(model, data, train=False),
                                            batch_size=config.eval_batch_size, which=("valid",))["valid"]
                row.update({f"valid_{k}": v for k, v in valid.items() if k != "users"})
                if valid["ndcg@10"] > best_score:
                    best_score, best_state, best_epoch, waited = (valid["ndcg@10"], copy.deepcopy(model.state_dict()),
                                                                  epoch, 0)
                else:
                    waited += 1
                bar.describe(f"training {config.model} (loss {loss:.4f}, valid ndcg@10 {valid['ndcg@10']:.4f}, "
                             f"best epoch {best_epoch})")
            history.append(row)
            bar.advance()
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    return history, best_epoch


def train_model(prepared: Prepared, config: TrainConfig, *, progress: bool = True,
                evaluate: tuple[str, ...] = ("test", "cold"),
                init: Callable[[Any], None] | None = None) -> TrainResult:
    """Train ``config.model`` on ``prepared`` and evaluate its best state (by valid NDCG@10).

    Args:
        prepared: split and graph (from :func:`prepare_split`).
        config: model and optimisation settings.
        progress: show a progress bar over epochs.
        evaluate: evaluation sets for the final metrics (``valid`` is always included).
        init: called with the freshly built model before training (e.g. a warm start from a bundle's weights).
    """
    torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = build_model(config, prepared.shape)
    if init is not None:
        init(model)
    history: list[dict[str, float]] = []
    best_epoch = 0
    start = time.perf_counter()
    if config.trainable and config.epochs > 0 and prepared.split.train.shape[1] > 0:
        history, best_epoch = _fit(model, prepared, config, gen, progress)
    train_seconds = time.perf_counter() - start
    user_emb, product_emb = _embed(model, prepared.data, train=False)
    user_emb, product_emb = user_emb.detach(), product_emb.detach()
    metrics = evaluate_embeddings(prepared, user_emb, product_emb, batch_size=config.eval_batch_size,
                                  which=("valid", *[w for w in evaluate if w != "valid"]))
    return TrainResult(config=config, model=model, user_emb=user_emb, product_emb=product_emb, metrics=metrics,
                       history=history, best_epoch=best_epoch, train_seconds=train_seconds,
                       peak_rss_mb=peak_rss_mb())


def model_meta(prepared: Prepared) -> dict[str, Any]:
    """What :func:`gnn.models.registry.model_from_bundle` needs besides the config (``model_meta.json``)."""
    return prepared.shape.to_meta()
