"""Train one RecBole model on a dataset written by ``convert.py`` and export its test rankings.

Runs in RecBole's own virtual environment (``bench/peers/setup.sh``), one model per process so that the peak
memory measured is that model's:

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 .venv-peers/bin/python bench/peers/run_recbole_models.py \
        --data-path var/peers --dataset ml-100k-kg --model KGAT --epochs 100 --stopping-step 5 --out var/peers/out

Uses RecBole's lower-level API (Config, create_dataset, data_preparation, get_model, get_trainer): the
``run_recbole`` quick start imports ray. Training: RecBole's defaults for the model (``properties/model/``),
CPU, full-ranking validation after every epoch on ``NDCG@10`` (the metric Cartograph stops on), early stopping
after ``--stopping-step`` epochs without improvement or once ``--time-budget`` seconds are spent (no epoch
starts after it), the best epoch's weights restored. Then, for every test
user, the top ``--top-k`` item ids among *all* items, the user's train and valid items excluded (as
Cartograph's evaluation does): ``<out>/<dataset>/<model>.json`` (ids, timings, peak RSS, RecBole's own valid
figures and the rankings as id lists). Metrics are computed by the caller, with Cartograph's metric code, for
every model alike. Run it with the working directory in a scratch folder: RecBole writes ``log_tensorboard/``
into the current directory.

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
from pathlib import Path
from typing import Any

MODELS = ("BPR", "LightGCN", "CKE", "KGCN", "KGAT", "KGIN")
KG_MODELS = frozenset({"CKE", "KGCN", "KGAT", "KGIN"})


def recbole_config(args: argparse.Namespace) -> dict[str, Any]:
    load_col: dict[str, list[str]] = {"inter": ["user_id", "item_id"], "item": ["item_id"]}
    if args.model in KG_MODELS:
        load_col.update(kg=["head_id", "relation_id", "tail_id"], link=["item_id", "entity_id"])
    return {
        "data_path": str(args.data_path),
        "benchmark_filename": ["train", "valid", "test"],  # the split Cartograph made, used as given
        "load_col": load_col,
        "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
        "metrics": ["Recall", "NDCG"],
        "topk": [10, 20],
        "valid_metric": "NDCG@10",
        "epochs": args.epochs,
        "stopping_step": args.stopping_step,
        "eval_step": 1,
        "use_gpu": False,
        "device": "cpu",
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        "checkpoint_dir": str(args.out / "checkpoints"),
        "state": "INFO",
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
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--stopping-step", type=int, default=5, help="epochs without a better valid NDCG@10")
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="seconds of training (0: none); no epoch starts after it, the best epoch so far is kept")
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--eval-users", type=int, default=256, help="users per full-ranking validation batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    _torch_scatter_fallback()
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    torch.set_num_threads(args.threads)
    if args.model == "KGAT":
        _dgl_compat()
    config = Config(model=args.model, dataset=args.dataset, config_dict=recbole_config(args))
    init_seed(config["seed"], config["reproducibility"])
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    # RecBole's full-ranking evaluation takes eval_batch_size // n_items users per batch: its default 4096 means
    # one amazon-beauty user per batch and 211 s of Python overhead per validation pass. Batch by users instead.
    config["eval_batch_size"] = dataset.item_num * (args.eval_users if args.model != "KGCN" else 16)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    load_s = time.perf_counter() - t0
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    t0 = time.perf_counter()
    stopped_by = "early stopping or epochs"
    with_deadline(trainer, t0 + args.time_budget if args.time_budget else None)
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    except TimeBudgetExceeded:
        stopped_by = f"time budget ({args.time_budget:.0f} s)"
    train_s = time.perf_counter() - t0
    best_valid, best_result = trainer.best_valid_score, trainer.best_valid_result
    checkpoint = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    t0 = time.perf_counter()
    rankings = export_rankings(model, dataset, train_data, valid_data, test_data, args.top_k)
    export_s = time.perf_counter() - t0
    # RecBole records one loss per epoch run, and counts the evaluations since the best one in cur_step.
    epochs_run = len(trainer.train_loss_dict)
    best_epoch = epochs_run - trainer.cur_step
    result = {
        "model": args.model, "dataset": args.dataset, "train_seconds": round(train_s, 2),
        "load_seconds": round(load_s, 2), "export_seconds": round(export_s, 2), "peak_rss_mb": round(_peak_rss_mb(), 1),
        "rss_source": "VmHWM",
        "epochs": args.epochs, "stopping_step": args.stopping_step, "time_budget_s": args.time_budget,
        "stopped_by": stopped_by, "epochs_run": epochs_run,
        "best_epoch": best_epoch, "recbole_best_valid": {k: float(v) for k, v in (best_result or {}).items()},
        "threads": args.threads, "seed": args.seed, "top_k": args.top_k, "rankings": rankings,
        "versions": {"recbole": _version("recbole"), "torch": torch.__version__},
    }
    out = args.out / args.dataset / f"{args.model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result) + "\n", encoding="utf-8")
    print(f"{args.model} on {args.dataset}: {train_s:.0f} s, best valid NDCG@10 {best_valid:.4f} "
          f"(epoch {best_epoch}), peak RSS {result['peak_rss_mb']:.0f} MB -> {out}", file=sys.stderr)
    return 0


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


def with_deadline(trainer: Any, deadline: float | None) -> None:
    """Make ``trainer`` refuse to start an epoch after ``deadline`` (``time.perf_counter()`` seconds).

    RecBole's fit loop has no time limit and a callback cannot stop it; its best state is saved to disk at
    every improvement, so stopping before an epoch loses nothing but the epochs not run.
    """
    if deadline is None:
        return
    train_epoch = trainer._train_epoch

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if time.perf_counter() > deadline:
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


if __name__ == "__main__":
    raise SystemExit(main())
