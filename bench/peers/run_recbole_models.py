"""Train one RecBole model on a dataset written by ``convert.py`` and export its test rankings.

Runs in RecBole's own virtual environment (``bench/peers/setup.sh``), one model and seed per process so that the
peak memory measured is that model's:

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 .venv-peers/bin/python bench/peers/run_recbole_models.py \
        --data-path var/peers --dataset ml-100k-kg --model KGAT --seed 2020 --out var/peers/out

Uses RecBole's lower-level API (Config, create_dataset, data_preparation, get_model, get_trainer): the
``run_recbole`` quick start imports ray. Training: RecBole's defaults for the model (``properties/model/``)
overridden only by ``--params`` (the plan's per-model settings, each with its source), CPU, full-ranking
validation after every epoch on ``NDCG@10`` (the metric Cartograph selects on), early stopping after
``--stopping-step`` further epochs without a better figure, the best epoch's weights restored. No wall-clock
limit unless ``--time-cap`` is given; a run it stops, or one that reaches ``--epochs``, is marked as not
converged (its figures are a lower bound).

What each kind reads at test time (the valid interaction is input, as in serving and as Cartograph's models
read it):

- sequential models (SASRec, BERT4Rec, GRU4Rec; CE loss): ``<dataset>-seq``, whose valid rows' history is
  the user's train items and test rows' history train + valid (``convert.check_sequential`` checks it);
- graph models (BPR, LightGCN, CKE, KGCN, KGAT, KGIN): a user's vector is a trained parameter (or, for
  LightGCN, propagated over the training graph), which cannot take a new interaction without training. So,
  after early stopping on ``<dataset>`` (train only, valid held out), the model is **refitted** from scratch,
  same seed and settings, on ``<dataset>-refit`` (train + valid) for the early-stopped number of epochs, and
  that model ranks the test. The early-stopped model's own test rankings are exported beside
  (``rankings_train_input``), so the effect of the refit is visible. ``--no-refit`` skips it.

For every test user: the top ``--top-k`` item ids among *all* items, the user's train and valid items
excluded (as Cartograph's evaluation does): ``<out>/<dataset>/<model>/seed<seed>.json`` (ids, timings, epochs
run, best epoch, the validation curve, whether it converged, peak RSS, RecBole's own valid figures and the
rankings as id lists). Metrics are computed by the caller, with Cartograph's metric code, for every model
alike. Run it with the working directory in a scratch folder: RecBole writes ``log_tensorboard/`` into the
current directory.

TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 is needed: RecBole reloads its checkpoint (which pickles the config) with
``torch.load`` and torch >= 2.6 loads weights only by default.

Library versions (``constraints.txt``) and two adaptations, neither of which changes a model: KGAT was written
for DGL 0.9 and runs here on DGL 1.1.3 through two renamed-API shims (:func:`_dgl_compat`); KGIN imports
``torch_scatter`` (no wheel for torch 2.13), for which ``compat/torch_scatter`` gives the same functions in
plain torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRAPH_MODELS = ("BPR", "LightGCN", "CKE", "KGCN", "KGAT", "KGIN")
SEQUENTIAL_MODELS = ("SASRec", "BERT4Rec", "GRU4Rec")
MODELS = GRAPH_MODELS + SEQUENTIAL_MODELS
KG_MODELS = frozenset({"CKE", "KGCN", "KGAT", "KGIN"})
#: convert.py's names and history length (this script cannot import convert: it runs in RecBole's venv).
REFIT_SUFFIX, SEQ_SUFFIX, SEQ_MAX_LEN = "-refit", "-seq", 50


def recbole_config(args: argparse.Namespace, dataset: str, epochs: int, params: dict[str, Any]) -> dict[str, Any]:
    """RecBole's config for ``dataset`` (a folder under ``--data-path``): the benchmark files as given, full
    ranking, validation on NDCG@10; the sequential format's fields; then the plan's ``params``."""
    load_col: dict[str, list[str]] = {"inter": ["user_id", "item_id"], "item": ["item_id"]}
    if args.model in KG_MODELS:
        load_col.update(kg=["head_id", "relation_id", "tail_id"], link=["item_id", "entity_id"])
    sequential: dict[str, Any] = {}
    if args.model in SEQUENTIAL_MODELS:
        load_col = {"inter": ["user_id", "item_id_list", "item_id"]}
        # item_id_list tokens are item ids (one index space); histories are written cut to SEQ_MAX_LEN.
        # eval order "TO": RecBole's sequential loader refuses any other, though benchmark files are used as given.
        sequential = {"alias_of_item_id": ["item_id_list"], "MAX_ITEM_LIST_LENGTH": SEQ_MAX_LEN,
                      "train_neg_sample_args": None,  # CE: RecBole requires no negative sampling
                      "eval_args": {"group_by": "user", "order": "TO", "mode": "full"}}
    return {
        "data_path": str(args.data_path),
        "benchmark_filename": ["train", "valid", "test"],  # the split Cartograph made, used as given
        "load_col": load_col,
        "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
        "metrics": ["Recall", "NDCG"],
        "topk": [10, 20],
        "valid_metric": "NDCG@10",
        "epochs": epochs,
        "stopping_step": args.stopping_step,
        "eval_step": 1,
        "use_gpu": False,
        "device": "cpu",
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        "checkpoint_dir": str(args.out / "checkpoints" / f"{dataset}-{args.model}-{args.seed}"),
        "state": "INFO",
        **sequential,
        **params,
    }


def _peak_rss_mb() -> float:
    """The same as ``gnn.train.peak_rss_mb`` (this script runs in RecBole's venv, which cannot import gnn).

    This process's peak resident memory in MB: ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: Linux carries that over fork and exec, so a model process started by a parent that had
    loaded a big graph would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-path", type=Path, required=True, help="folder holding <dataset>/<dataset>.*.inter")
    ap.add_argument("--dataset", required=True, help="the base name (the -seq / -refit sets are found beside)")
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--epochs", type=int, default=500, help="epoch cap (reaching it: not converged)")
    ap.add_argument("--stopping-step", type=int, default=10, help="epochs without a better valid NDCG@10")
    ap.add_argument("--time-cap", type=float, default=0.0,
                    help="seconds of training (0: none); no epoch starts after it, the best epoch so far is kept, "
                         "and the result is marked 'did not converge: lower bound'")
    ap.add_argument("--stop-file", type=Path,
                    help="when this file appears, no further epoch starts (the file is removed): the best epoch so "
                         "far is exported, marked 'did not converge: lower bound' (ends a long run at a moment "
                         "chosen while it runs, which a time cap must know in advance)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run of this model, dataset and seed that a time cap stopped (its export under "
                         "--out says so): from its best checkpoint (weights, optimizer, early-stopping counter), "
                         "keeping its epoch log; a run converged under at least this --stopping-step is left as it is")
    ap.add_argument("--params", default="{}", help="JSON: the model's settings (the plan's 'params')")
    ap.add_argument("--no-refit", action="store_true", help="graph models: rank the test with the early-stopped "
                    "model (train only as input) instead of refitting on train + valid")
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--eval-users", type=int, default=256, help="users per full-ranking validation batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    params = json.loads(args.params)
    sequential = args.model in SEQUENTIAL_MODELS

    _torch_scatter_fallback()
    import torch

    torch.set_num_threads(args.threads)
    if args.model == "KGAT":
        _dgl_compat()
    name = args.dataset + (SEQ_SUFFIX if sequential else "")
    prior = prior_run(args, name) if args.resume else None
    if prior is not None and converged_under(prior.export, args.stopping_step):
        print(f"{args.model} on {args.dataset} (seed {args.seed}) converged already: nothing to resume",
              file=sys.stderr)
        return 0
    model, dataset, (train_data, valid_data, test_data), load_s = build(args, name, args.epochs, params)
    trainer = make_trainer(model, dataset.config)
    if prior is not None:
        trainer.resume_checkpoint(prior.checkpoint)
    start = int(getattr(trainer, "start_epoch", 0))  # epochs already run (0 for a fresh run)
    curve = record_epochs(trainer, first_epoch=start + 1)
    stopped_by = fit(trainer, train_data, valid_data, args)
    if prior is not None:  # the epochs the checkpoint had seen, then this run's
        curve = [e for e in prior.export.get("epoch_log", []) if e["epoch"] <= start] + curve
    train_s = sum(e["train_s"] + e.get("valid_s", 0.0) for e in curve)
    best_valid, best_result = trainer.best_valid_score, trainer.best_valid_result
    if best_result is None and prior is not None:  # no better epoch since the checkpoint
        best_result = prior_best_valid(prior.export, start, float(best_valid))
    checkpoint = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    # RecBole records one loss per epoch run (this run's), and counts the evaluations since the best one in cur_step.
    epochs_run = start + len(trainer.train_loss_dict)
    best_epoch = epochs_run - trainer.cur_step
    t0 = time.perf_counter()
    export = export_sequential if sequential else export_rankings
    rankings = export(model, dataset, train_data, valid_data, test_data, args.top_k)
    export_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "model": args.model, "kind": "sequential" if sequential else "graph", "dataset": args.dataset,
        "recbole_dataset": name, "train_seconds": round(train_s, 2), "load_seconds": round(load_s, 2),
        "export_seconds": round(export_s, 2), "epochs": args.epochs, "stopping_step": args.stopping_step,
        "time_cap_s": args.time_cap or None, "stopped_by": stopped_by, "converged": stopped_by == "early stopping",
        "epochs_run": epochs_run, "best_epoch": best_epoch, "epoch_log": curve,
        "seconds_per_epoch": round(train_s / max(epochs_run, 1), 2), "params": params,
        "recbole_best_valid": {k: float(v) for k, v in (best_result or {}).items()},
        "threads": args.threads, "seed": args.seed, "top_k": args.top_k,
        "test_input": "train + valid (sequential history)" if sequential else "train only (early-stopped model)",
        "rankings": rankings,
    }
    if prior is not None:
        earlier = prior.export.get("resumed", {})
        logged = [e["epoch"] for e in prior.export.get("epoch_log", [])]
        result["resumed"] = {"from_epoch": start, "checkpoint": str(prior.checkpoint),
                             "runs": int(earlier.get("runs", 1)) + 1,
                             # a checkpoint newer than the export (a run killed before it exported) leaves
                             # epochs that only its log file records; train_seconds leaves them out
                             "epochs_missing_from_log": max(start - max(logged, default=0), 0),
                             "earlier_stopping_step": prior.export.get("stopping_step")}
    if not sequential and not args.no_refit:
        refit = refit_and_export(args, params, max(best_epoch, 1))
        result["rankings_train_input"] = result.pop("rankings")
        result.update(rankings=refit.pop("rankings"), refit=refit,
                      test_input=f"train + valid (refitted on them for {max(best_epoch, 1)} epochs)")
    result.update(peak_rss_mb=round(_peak_rss_mb(), 1), rss_source="VmHWM",
                  versions={"recbole": _version("recbole"), "torch": torch.__version__})
    out = args.out / args.dataset / args.model / f"seed{args.seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result) + "\n", encoding="utf-8")
    print(f"{args.model} on {args.dataset} (seed {args.seed}): {train_s:.0f} s, {stopped_by}, best valid NDCG@10 "
          f"{best_valid:.4f} (epoch {best_epoch} of {epochs_run}), peak RSS {result['peak_rss_mb']:.0f} MB -> {out}",
          file=sys.stderr)
    return 0


@dataclass(frozen=True)
class PriorRun:
    """An earlier run to continue: its newest checkpoint and its export."""

    checkpoint: Path
    export: dict[str, Any]


def prior_run(args: argparse.Namespace, name: str) -> PriorRun | None:
    """The earlier run of ``args``' model, dataset and seed (its export under ``--out``, its newest checkpoint in
    the run's checkpoint directory, :func:`recbole_config`), or None when either is missing."""
    export = args.out / args.dataset / args.model / f"seed{args.seed}.json"
    checkpoints = sorted((args.out / "checkpoints" / f"{name}-{args.model}-{args.seed}").glob("*.pth"),
                         key=lambda p: p.stat().st_mtime)
    if not export.is_file() or not checkpoints:
        return None
    return PriorRun(checkpoints[-1], json.loads(export.read_text(encoding="utf-8")))


def prior_best_valid(export: dict[str, Any], start: int, best_valid: float) -> dict[str, float]:
    """The best validation figures of a resumed run that found no better epoch: the earlier export's, when its log
    reaches the checkpoint; else (a run killed after the export, whose checkpoint is newer) only the NDCG@10 the
    checkpoint holds."""
    logged = max((e["epoch"] for e in export.get("epoch_log", [])), default=0)
    if logged >= start and export.get("recbole_best_valid"):
        return dict(export["recbole_best_valid"])
    return {"ndcg@10": best_valid}


def converged_under(export: dict[str, Any], stopping_step: int) -> bool:
    """Whether an earlier run's export converged under at least ``stopping_step`` epochs of patience: one that
    stopped after 10 flat epochs has not converged by a plan that asks for 50, and is resumed from its newest
    checkpoint instead."""
    return bool(export.get("converged")) and int(export.get("stopping_step") or 0) >= stopping_step


def build(args: argparse.Namespace, name: str, epochs: int, params: dict[str, Any]) -> tuple[Any, Any, Any, float]:
    """(model, dataset, (train, valid, test) loaders, load seconds) for RecBole dataset ``name``, seeded."""
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, init_seed

    config = Config(model=args.model, dataset=name, config_dict=recbole_config(args, name, epochs, params))
    init_seed(config["seed"], config["reproducibility"])
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    # RecBole's full-ranking evaluation takes eval_batch_size // n_items users per batch: its default 4096 means
    # one amazon-beauty user per batch and 211 s of Python overhead per validation pass. Batch by users instead.
    # (A sequential model's loader batches rows as they are: there eval_batch_size is a number of users.)
    users = args.eval_users if args.model != "KGCN" else 16
    config["eval_batch_size"] = users if args.model in SEQUENTIAL_MODELS else dataset.item_num * users
    loaders = data_preparation(config, dataset)
    load_s = time.perf_counter() - t0
    init_seed(config["seed"], config["reproducibility"])  # the model's initialisation does not depend on loading
    model = get_model(config["model"])(config, loaders[0]._dataset).to(config["device"])
    # get_model imports every RecBole model, and recbole/model/sequential_recommender/sine.py switches autograd's
    # anomaly detection on for the whole process at import: every backward node then checks its output for NaN
    # (SASRec on amazon-beauty, one thread: 310-359 CPU-seconds an epoch with it, 250 without; docs/peers.md).
    # No model here needs it.
    torch.autograd.set_detect_anomaly(False)
    return model, dataset, loaders, load_s


def make_trainer(model: Any, config: Any) -> Any:
    from recbole.utils import get_trainer

    return get_trainer(config["MODEL_TYPE"], config["model"])(config, model)


def fit(trainer: Any, train_data: Any, valid_data: Any, args: argparse.Namespace) -> str:
    """Train with early stopping (and the optional time cap); returns why training stopped."""
    guard_epochs(trainer, time.perf_counter() + args.time_cap if args.time_cap else None, args.stop_file)
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    except StopRequested:
        return "stopped on request (stop file): did not converge, lower bound"
    except TimeBudgetExceeded:
        return f"time cap ({args.time_cap:.0f} s): did not converge, lower bound"
    if int(getattr(trainer, "start_epoch", 0)) + len(trainer.train_loss_dict) >= args.epochs:
        return f"epoch cap ({args.epochs}): did not converge, lower bound"
    return "early stopping"


def record_epochs(trainer: Any, first_epoch: int = 1) -> list[dict[str, float]]:
    """Time every training epoch and validation pass, and keep each validation NDCG@10: ``[{epoch, train_s,
    valid_s, valid_ndcg@10}]``, filled while ``trainer.fit`` runs; epochs numbered from ``first_epoch`` (a
    resumed run's first)."""
    log: list[dict[str, float]] = []
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

    # CPU seconds beside wall seconds: on a shared machine the wall clock says more about the neighbours.
    def timed_train(*a: Any, **kw: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        out = train_epoch(*a, **kw)
        log.append({"epoch": first_epoch + len(log), "train_s": round(time.perf_counter() - t, 2),
                    "train_cpu_s": round(time.process_time() - c, 2)})
        return out

    def timed_valid(*a: Any, **kw: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        score, result = valid_epoch(*a, **kw)
        log[-1].update({"valid_s": round(time.perf_counter() - t, 2), "valid_cpu_s": round(time.process_time() - c, 2),
                        "valid_ndcg@10": round(float(score), 6)})
        return score, result

    trainer._train_epoch, trainer._valid_epoch = timed_train, timed_valid
    return log


def refit_and_export(args: argparse.Namespace, params: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Train a fresh model (same seed and settings) on ``<dataset>-refit`` (train + valid) for ``epochs`` epochs,
    without validation, and export its test rankings (train and valid items excluded)."""
    model, dataset, (train_data, valid_data, test_data), _ = build(args, args.dataset + REFIT_SUFFIX, epochs, params)
    trainer = make_trainer(model, dataset.config)
    t0 = time.perf_counter()
    trainer.fit(train_data, None, saved=False, show_progress=False)
    refit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rankings = export_rankings(model, dataset, train_data, valid_data, test_data, args.top_k)
    return {"epochs": epochs, "train_seconds": round(refit_s, 2), "export_seconds": round(time.perf_counter() - t0, 2),
            "rankings": rankings}


def _dgl_compat() -> None:
    """Let RecBole 1.2.1's KGAT (written for DGL 0.9) run on DGL 1.1.3, the newest DGL on PyPI that runs on torch
    2.13 (RUCAIBox/RecBole#1758, #2201). Two API renames, same meaning:

    - ``dgl.edge_subgraph(g, e, preserve_nodes=True)`` became ``relabel_nodes=False`` (keep every node, so each
      relation's adjacency has the full graph's shape);
    - ``DGLGraph.adjacency_matrix(transpose, scipy_fmt=...)`` (a SciPy matrix, row = source node when
      ``transpose=False``) became ``DGLGraph.adj_external`` (``adjacency_matrix`` now returns DGL's own sparse
      type).
    """
    import dgl

    if getattr(dgl, "_cartograph_compat", False):
        return
    edge_subgraph = dgl.edge_subgraph

    def edge_subgraph_compat(graph: Any, edges: Any, *args: Any, preserve_nodes: bool | None = None,
                             **kwargs: Any) -> Any:
        if preserve_nodes is not None:
            kwargs.setdefault("relabel_nodes", not preserve_nodes)
        return edge_subgraph(graph, edges, *args, **kwargs)

    adjacency_matrix = dgl.DGLGraph.adjacency_matrix

    def adjacency_matrix_compat(self: Any, *args: Any, scipy_fmt: str | None = None, transpose: bool = False,
                                **kwargs: Any) -> Any:
        if scipy_fmt is None:
            return adjacency_matrix(self, *args, **kwargs)
        return self.adj_external(transpose=transpose, scipy_fmt=scipy_fmt, **kwargs)

    dgl.edge_subgraph = edge_subgraph_compat
    dgl.DGLGraph.adjacency_matrix = adjacency_matrix_compat
    dgl._cartograph_compat = True


def _torch_scatter_fallback() -> None:
    """KGIN imports torch_scatter, which has no wheel for torch 2.13: use the plain-torch stand-in in compat/."""
    import importlib.util

    if importlib.util.find_spec("torch_scatter") is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent / "compat"))


class TimeBudgetExceeded(Exception):
    """Raised instead of starting an epoch once the time budget is spent (the best checkpoint is on disk)."""


class StopRequested(Exception):
    """Raised instead of starting an epoch once the run's ``--stop-file`` exists."""


def guard_epochs(trainer: Any, deadline: float | None, stop_file: Path | None) -> None:
    """Make ``trainer`` refuse to start an epoch after ``deadline`` (``time.perf_counter()`` seconds) or once
    ``stop_file`` exists (which it then removes, so that the next run starts afresh).

    RecBole's fit loop has no time limit and a callback cannot stop it; its best state is saved to disk at
    every improvement, so stopping before an epoch loses nothing but the epochs not run.
    """
    if deadline is None and stop_file is None:
        return
    train_epoch = trainer._train_epoch

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if stop_file is not None and stop_file.exists():
            stop_file.unlink(missing_ok=True)
            raise StopRequested
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeBudgetExceeded
        return train_epoch(*args, **kwargs)

    trainer._train_epoch = guarded


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def export_rankings(model: Any, dataset: Any, train_data: Any, valid_data: Any, test_data: Any,
                    top_k: int) -> dict[str, list[str]]:
    """test user id -> top ``top_k`` item ids over all items, the user's train and valid items excluded."""
    import torch
    from recbole.data.interaction import Interaction

    uid, iid = dataset.uid_field, dataset.iid_field
    n_items = dataset.item_num
    history: dict[int, list[int]] = {}
    for part in (train_data, valid_data):
        feat = part._dataset.inter_feat
        for u, i in zip(feat[uid].tolist(), feat[iid].tolist(), strict=True):
            history.setdefault(u, []).append(i)
    test_users = sorted(set(test_data._dataset.inter_feat[uid].tolist()))
    model.eval()
    for attr in ("restore_user_e", "restore_item_e", "restore_entity_e"):
        if hasattr(model, attr):
            setattr(model, attr, None)  # cached embeddings of the last training state: recompute from the best
    out: dict[str, list[str]] = {}
    # KGCN scores (user, item) pairs through sampled neighbourhoods: about 3 KB per pair, so batches stay small.
    batch_size = max(1, 250_000 // n_items) if model.__class__.__name__ == "KGCN" else 1024
    with torch.no_grad():
        for start in range(0, len(test_users), batch_size):
            batch = test_users[start:start + batch_size]
            scores = model.full_sort_predict(Interaction({uid: torch.tensor(batch)})).view(len(batch), n_items)
            scores[:, 0] = float("-inf")  # index 0 is RecBole's padding item
            for row, u in enumerate(batch):
                seen = history.get(u)
                if seen:
                    scores[row, seen] = float("-inf")
            top = scores.topk(min(top_k, n_items - 1), dim=1).indices.tolist()
            for u, items in zip(batch, top, strict=True):
                out[str(dataset.id2token(uid, u))] = [str(t) for t in dataset.id2token(iid, items)]
    return out



def export_sequential(model: Any, dataset: Any, train_data: Any, valid_data: Any, test_data: Any,
                      top_k: int) -> dict[str, list[str]]:
    """test user id -> top ``top_k`` item ids over all items for a sequential model, each test row (history =
    train + valid) scored by ``full_sort_predict``; the user's train and valid items excluded."""
    import numpy as np
    import torch

    uid, iid = dataset.uid_field, dataset.iid_field
    list_field = dataset.item_id_list_field
    n_items = dataset.item_num
    history: dict[int, set[int]] = {}
    for part in (train_data, valid_data):  # every train item is some train row's target or first history item
        feat = part._dataset.inter_feat
        lists, users, targets = feat[list_field].numpy(), feat[uid].numpy(), feat[iid].numpy()
        for u, seq, t in zip(users.tolist(), lists, targets.tolist(), strict=True):
            seen = history.setdefault(u, set())
            seen.update(seq[seq > 0].tolist())
            seen.add(t)
    test_feat = test_data._dataset.inter_feat
    model.eval()
    out: dict[str, list[str]] = {}
    with torch.no_grad():
        for start in range(0, len(test_feat), 1024):
            batch = test_feat[start:start + 1024]
            users = batch[uid].tolist()
            scores = model.full_sort_predict(batch).view(len(users), n_items)
            scores[:, 0] = float("-inf")  # index 0 is RecBole's padding item
            for row, u in enumerate(users):
                seen_items = history.get(u)
                if seen_items:
                    scores[row, np.fromiter(seen_items, dtype=np.int64)] = float("-inf")
            top = scores.topk(min(top_k, n_items - 1), dim=1).indices.tolist()
            for u, items in zip(users, top, strict=True):
                out[str(dataset.id2token(uid, u))] = [str(t) for t in dataset.id2token(iid, items)]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
