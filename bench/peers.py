"""Cartograph against converged RecBole peers: same data, same split, same metric code. One command:

    bash bench/peers/setup.sh                      # once: RecBole's own venv, .venv-peers
    nice .venv/bin/python bench/peers.py           # every dataset, every peer, every seed of the plan
    nice .venv/bin/python bench/peers.py --quick   # 1 epoch per model: checks the pipeline end to end

Per dataset (``--datasets``): Cartograph's snapshot and standard split (``bench/peers/convert.py``:
leave-one-out by time order, no product withheld, co-purchase lists off unless ``--copurchase``) are written
as RecBole atomic files (pairs, pairs with valid added to train for the refit, and sequential rows whose
histories are Cartograph's); then, each in a process of its own and for every seed of the plan
(``bench/configs/peers.json``):

- Cartograph (``bench/peers/cartograph_side.py``): the model ``cartograph train`` serves (TrainConfig's
  defaults: every candidate trained, the best on validation served), plus the other candidates, popularity
  and, where there are co-purchase lists, the co-purchase lookup (knows the future) as sanity rows;
- RecBole's sequential SASRec, BERT4Rec, GRU4Rec and graph BPR, LightGCN, CKE, KGCN, KGAT, KGIN
  (``bench/peers/run_recbole_models.py`` in the peers venv): early stopping on valid NDCG@10 with the plan's
  patience, no wall-clock limit unless ``--time-cap``; graph models refitted on train + valid for their
  early-stopped epoch count so that the test reads the valid interaction, as the sequential models do.
  ``touch <work-dir>/STOP`` ends the peer that is training before its next epoch (its best epoch is exported
  as a lower bound, the file removed) and the run goes on with the next: a long run ended at a moment chosen
  while it runs.

Every export (each test user's top 100, train and valid items excluded) is scored here by
:func:`gnn.metrics.evaluate_rankings`; per seed, then mean and spread over the seeds. Per-user test NDCG@10
(mean over seeds) gives a paired bootstrap interval for Cartograph's ratio to every row
(``bench/peers/significance.py``). amazon-book-kgat: Cartograph alone on KGAT's published split, beside the
published figures.

Writes ``bench/results/peers.json``, ``peers.md`` and ``peers.png`` (``peers_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / "peers"
for _p in (ROOT, PEERS_DIR):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import cartograph_side  # noqa: E402
import convert  # noqa: E402
import report  # noqa: E402
import significance  # noqa: E402

SEQUENTIAL_PEERS = ("SASRec", "BERT4Rec", "GRU4Rec")
GRAPH_PEERS = ("BPR", "LightGCN", "CKE", "KGCN", "KGAT", "KGIN")
PEER_MODELS = SEQUENTIAL_PEERS + GRAPH_PEERS


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_logged(cmd: list[str], log_path: Path, *, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> str | None:
    """Run ``cmd`` (its output to ``log_path``); None when it succeeded, else the error line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=False)
    if done.returncode == 0:
        return None
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
    return f"exit {done.returncode}: {tail[0]} (log: {log_path})"


def seeds_for(plan: dict[str, Any], dataset: str, model: str, quick: bool, most: int | None = None) -> list[int]:
    """The plan's seeds for ``model`` on ``dataset``: the first ``quick.seeds`` of them with ``quick``, the first
    ``most`` with ``most``."""
    ds = plan["datasets"][dataset]
    seeds = ds["cartograph_seeds"] if model == cartograph_side.SERVED else \
        ds["seeds"].get(model, ds["seeds"]["default"])
    return list(seeds[:plan["quick"]["seeds"] if quick else most])


def peer_command(args: argparse.Namespace, plan: dict[str, Any], dataset: str, model: str, seed: int) -> list[str]:
    quick = plan["quick"] if args.quick else {}
    settings = plan["models"][model]  # a model's entry may give it more epochs or patience than the plan's
    epochs = quick.get("epochs", settings.get("epochs", plan["epochs"]))
    stopping = quick.get("stopping_step", settings.get("stopping_step", plan["stopping_step"]))
    cap = args.time_cap if args.time_cap is not None else plan.get("time_cap_s")
    return [str(args.peers_python), str(PEERS_DIR / "run_recbole_models.py"), "--data-path", str(args.work_dir),
            "--dataset", dataset, "--model", model, "--seed", str(seed), "--epochs", str(epochs),
            "--stopping-step", str(stopping), "--time-cap", str(cap or 0),
            "--params", json.dumps(plan["models"][model]["params"]), "--threads", str(args.threads),
            "--top-k", str(plan["top_k"]), "--out", str(args.work_dir / "out"),
            "--stop-file", str(args.work_dir / "STOP"), *(["--resume"] if args.resume else [])]


def cartograph_command(args: argparse.Namespace, plan: dict[str, Any], dataset: str, seed: int) -> list[str]:
    cmd = [sys.executable, str(PEERS_DIR / "cartograph_side.py"), "cartograph", "--dataset", dataset,
           "--data-dir", str(args.data_dir), "--work-dir", str(args.work_dir), "--seed", str(seed),
           "--threads", str(args.threads), "--top-k", str(plan["top_k"]), "--out", str(args.work_dir / "out")]
    if args.quick:
        cmd += ["--epochs", str(plan["quick"]["cartograph_epochs"])]
    if args.cartograph_candidates:
        cmd += ["--candidates", args.cartograph_candidates]
    return cmd + (["--copurchase"] if args.copurchase else [])


def train_everything(args: argparse.Namespace, plan: dict[str, Any], dataset: str) -> dict[str, str]:
    """Run Cartograph's job and every peer for every seed; returns ``row -> error`` for what failed or was
    skipped (the exports are on disk under ``<work>/out``)."""
    errors: dict[str, str] = {}
    logs = args.work_dir / "logs" / dataset
    for seed in [] if args.no_cartograph else seeds_for(plan, dataset, cartograph_side.SERVED, args.quick, args.seeds):
        error = run_logged(cartograph_command(args, plan, dataset, seed), logs / f"Cartograph.seed{seed}.log")
        log(f"{dataset}: Cartograph seed {seed} {error or 'done'}")
        if error:
            errors[cartograph_side.SERVED] = error
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "OMP_NUM_THREADS": str(args.threads)}
    scratch = args.work_dir / "run"  # RecBole writes log_tensorboard/ into its working directory
    scratch.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        skip = plan["datasets"][dataset].get("skip", {}).get(model)
        if skip:
            errors[model] = f"not run: {skip}"
            log(f"{dataset}: {model} not run ({skip})")
            continue
        for seed in seeds_for(plan, dataset, model, args.quick, args.seeds):
            path = cartograph_side.export_path(args.work_dir / "out", dataset, model, seed)
            if args.reuse_peers and path.is_file():
                log(f"{dataset}: {model} seed {seed} reused from {path}")
                continue
            if not args.resume:  # a resumed run reads its export, and rewrites it when done
                path.unlink(missing_ok=True)
            error = run_logged(peer_command(args, plan, dataset, model, seed), logs / f"{model}.seed{seed}.log",
                               env=env, cwd=scratch)
            log(f"{dataset}: {model} seed {seed} {error or 'done'}")
            if error:
                errors[model] = error
    return errors


def written_split(args: argparse.Namespace, dataset: str) -> tuple[Any, Any, dict[str, Any]]:
    """(snapshot, split, summary) of the files an earlier run wrote, checked against Cartograph's split."""
    snapshot, split = convert.snapshot_and_split(dataset, args.data_dir, args.work_dir)
    written = convert.read_split(args.work_dir / dataset, dataset, snapshot)
    if not all(convert.same_pairs(written[p], getattr(split, p)) for p in convert.PARTS):
        raise SystemExit(f"{dataset}: the files in {args.work_dir / dataset} are not this split; "
                         "run without --report-only")
    summary = json.loads((args.work_dir / dataset / "split.json").read_text(encoding="utf-8"))
    return snapshot, split, summary


def per_user_archive(out: Path, stem: str, dataset: str) -> Path:
    """Where a report keeps its rows' per-user NDCG@10 (:func:`significance.save_per_user`)."""
    return out / f"{stem}_per_user" / f"{dataset}.npz"


def run_dataset(args: argparse.Namespace, dataset: str, plan: dict[str, Any],
                previous: dict[str, Any] | None = None, stem: str = "peers") -> dict[str, Any]:
    """Train (unless ``--report-only``), score and compare every row of one dataset. ``previous``: this
    dataset's part of the report being merged into; where it was made on the same snapshot, a row whose exports
    are gone is taken from it (and its per-user archive) instead of being reported as missing."""
    t = time.perf_counter()
    if args.report_only:
        snapshot, split, summary = written_split(args, dataset)
        errors: dict[str, str] = {}
    else:
        snapshot, split, summary = convert.convert(dataset, args.data_dir, args.work_dir, copurchase=args.copurchase)
        log(f"{dataset}: converted ({time.perf_counter() - t:.0f} s): {json.dumps(summary['split'])}")
        errors = train_everything(args, plan, dataset)
    rows = significance.collect(args.work_dir / "out", dataset, snapshot, split,
                                [cartograph_side.SERVED, *args.models], plan, errors)
    archive = per_user_archive(args.out, stem, dataset)
    same = previous is not None and previous.get("split", {}).get("snapshot_id") == summary.get("snapshot_id")
    for name in significance.restore_rows(rows, previous["rows"] if same and previous else {}, archive):
        log(f"{dataset}: {name} has no export in {args.work_dir / 'out'}: its row and per-user figures are the "
            f"earlier report's ({archive})")
    compared = significance.compare(rows)
    significance.save_per_user(rows, archive)
    for row in rows.values():
        row.pop("per_user_ndcg@10", None)  # 22k numbers a row: kept in the archive, not in the report
    return {"split": summary, "rows": rows, "significance": compared}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 epoch per model, 1 seed; writes peers_quick.*")
    ap.add_argument("--datasets", default="ml-100k-kg,amazon-beauty")
    ap.add_argument("--models", default=",".join(PEER_MODELS), help="RecBole models, comma-separated")
    ap.add_argument("--time-cap", type=float, help="seconds of training per peer run (default: the plan's, none); "
                    "a run it stops is reported as 'did not converge: lower bound'")
    ap.add_argument("--copurchase", action="store_true",
                    help="co-purchase lists in every model's graph (they know the future: never the headline)")
    ap.add_argument("--seeds", type=int, help="at most this many seeds per model (default: the plan's)")
    ap.add_argument("--no-cartograph", action="store_true", help="train no Cartograph model (its rows come from "
                    "exports already in --work-dir, if any: e.g. a run of the peers alone)")
    ap.add_argument("--cartograph-candidates", help="Cartograph's candidates, comma-separated (default: "
                    "TrainConfig's, as `cartograph train`); fewer only where a run cannot afford them all, said in "
                    "its served row")
    ap.add_argument("--report-only", action="store_true", help="train nothing: score the exports already in "
                    "--work-dir (of the --models given, plus Cartograph's rows) and write the report")
    ap.add_argument("--no-book", action="store_true", help="skip amazon-book-kgat")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--stem", help="result file names (default: peers, peers_quick with --quick)")
    ap.add_argument("--plan", type=Path, default=ROOT / "bench" / "configs" / "peers.json")
    ap.add_argument("--peers-python", type=Path, default=ROOT / ".venv-peers" / "bin" / "python")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--resume", action="store_true",
                    help="continue each peer run a time cap stopped, from its best checkpoint and with its epoch "
                         "log (run_recbole_models.py --resume); converged runs are kept as they are")
    ap.add_argument("--reuse-peers", action="store_true",
                    help="keep every peer export already in --work-dir (same split: convert checks it) and train "
                         "only what is missing")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other datasets (and amazon-book) of an existing result file; replace those run")
    args = ap.parse_args(argv)
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    args.threads = args.threads or plan["threads"]
    args.models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(args.models) - set(PEER_MODELS))
    if unknown:
        ap.error(f"unknown models {unknown}; known: {', '.join(PEER_MODELS)}")
    if args.models and not args.peers_python.exists():
        ap.error(f"{args.peers_python} does not exist: create RecBole's venv with bash bench/peers/setup.sh")
    args.work_dir, args.data_dir = args.work_dir.resolve(), args.data_dir.resolve()
    start = time.perf_counter()
    doc: dict[str, Any] = {
        "quick": args.quick, "threads": args.threads, "plan": plan, "copurchase": args.copurchase,
        "time_cap_s": args.time_cap if args.time_cap is not None else plan.get("time_cap_s"), "datasets": {},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine()},
        "metric_code": "gnn.metrics.evaluate_rankings on each model's exported top-100 (train+valid items excluded)",
    }
    stem = args.stem or ("peers_quick" if args.quick else "peers")
    previous = args.out / f"{stem}.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text(encoding="utf-8"))
        doc["datasets"] = old.get("datasets", {})
        if "amazon-book-kgat" in old:
            doc["amazon-book-kgat"] = old["amazon-book-kgat"]
    for dataset in [d for d in args.datasets.split(",") if d]:
        previous = doc["datasets"].get(dataset) if args.merge else None
        doc["datasets"][dataset] = run_dataset(args, dataset, plan, previous, stem)
        doc["wall_seconds"] = round(time.perf_counter() - start, 1)
        write_results(doc, args.out, stem)  # after each dataset, so that a long run shows what it has
    if not args.no_book and not args.report_only:
        out = args.work_dir / "out" / "amazon-book-kgat.json"
        epochs = plan["quick"]["book_epochs"] if args.quick else None
        cmd = [sys.executable, str(PEERS_DIR / "cartograph_side.py"), "amazon-book", "--data-dir", str(args.data_dir),
               "--work-dir", str(args.work_dir), "--threads", str(args.threads), "--out", str(out),
               *(["--epochs", str(epochs)] if epochs else [])]
        error = run_logged(cmd, args.work_dir / "logs" / "amazon-book-kgat.log")
        if error:
            log(f"amazon-book-kgat failed: {error}")
        else:
            book = json.loads(out.read_text(encoding="utf-8"))
            book.pop("history", None)
            doc["amazon-book-kgat"] = book
    doc["wall_seconds"] = round(time.perf_counter() - start, 1)
    print(write_results(doc, args.out, stem))
    return 0


def write_results(doc: dict[str, Any], out: Path, stem: str) -> str:
    """``<stem>.json``, ``.md`` and ``.png`` in ``out``; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2, default=float) + "\n", encoding="utf-8")
    md = report.markdown(doc)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    report.chart(doc, out / f"{stem}.png")
    return md


if __name__ == "__main__":
    raise SystemExit(main())
