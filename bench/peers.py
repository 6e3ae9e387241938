"""Cartograph against RecBole's knowledge-graph recommenders: same data, same split, same metric code. One command:

    bash bench/peers/setup.sh                      # once: RecBole's own venv, .venv-peers
    nice .venv/bin/python bench/peers.py           # everything, under two hours on 2 cores
    nice .venv/bin/python bench/peers.py --quick   # 1-2 epochs per model: checks the pipeline end to end

For ml-100k-kg and amazon-beauty: Cartograph's snapshot and split (``bench/peers/convert.py``: leave-one-out by
time order, no cold products) are written as RecBole atomic files; Cartograph's model (``bench/configs/
<dataset>.json``) and RecBole's BPR, LightGCN, CKE, KGCN, KGAT, KGIN (``bench/peers/run_recbole_models.py`` in
the peers venv, epochs / patience / time budget from ``bench/configs/peers.json``) each train in a process of
their own on that split and export every test user's top-100 products, train and valid items excluded. Then
Recall@10/20 and NDCG@10/20 of every export are computed here by :func:`gnn.metrics.evaluate_rankings`.
amazon-book-kgat: Cartograph without KG or text on KGAT's published split, beside the published figures.

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

PEER_MODELS = ("BPR", "LightGCN", "CKE", "KGCN", "KGAT", "KGIN")


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_json(cmd: list[str], out: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None,
             log_path: Path) -> dict[str, Any]:
    """Run ``cmd`` (its output to ``log_path``) and return the JSON it wrote to ``out``, or ``{"error": ...}``."""
    out.unlink(missing_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0 or not out.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {done.returncode}: {tail[0]}", "log": str(log_path), "wall_seconds": round(wall, 1)}
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    doc["wall_seconds"] = round(wall, 1)
    doc["log"] = str(log_path)
    return doc


def peer_command(args: argparse.Namespace, dataset: str, model: str, plan: dict[str, Any]) -> list[str]:
    step = plan["quick"] if args.quick else plan["datasets"][dataset][model]
    return [str(args.peers_python), str(PEERS_DIR / "run_recbole_models.py"), "--data-path", str(args.work_dir),
            "--dataset", dataset, "--model", model, "--epochs", str(step["epochs"]),
            "--stopping-step", str(step["stopping_step"]), "--time-budget", str(step["time_budget"]),
            "--threads", str(args.threads), "--top-k", str(plan["top_k"]), "--out", str(args.work_dir / "out")]


def worker_command(args: argparse.Namespace, job: str, out: Path, *, dataset: str | None = None,
                   epochs: int | None = None, top_k: int = 100) -> list[str]:
    cmd = [sys.executable, str(PEERS_DIR / "cartograph_side.py"), job, "--data-dir", str(args.data_dir),
           "--work-dir", str(args.work_dir), "--threads", str(args.threads), "--top-k", str(top_k), "--out", str(out)]
    if dataset:
        cmd += ["--dataset", dataset]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    return cmd


def summarise(doc: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
    keep = ("train_seconds", "text_seconds", "history", "peak_rss_mb", "epochs", "epochs_run", "best_epoch",
            "stopped_by", "rss_source", "wall_seconds", "stopping_step", "time_budget_s", "recbole_best_valid",
            "own_metrics", "reused",
            "config", "versions", "log")
    out = {"metrics": metrics, **{k: doc[k] for k in keep if k in doc}}
    if out.get("stopped_by", "early stopping or epochs") == "early stopping or epochs":
        cap = doc.get("epochs") or doc.get("config", {}).get("epochs")
        out["stopped_by"] = "epoch cap" if cap and doc.get("epochs_run", 0) >= cap else "early stopping"
    return out


def run_dataset(args: argparse.Namespace, dataset: str, plan: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    snapshot, split, summary = convert.convert(dataset, args.data_dir, args.work_dir)
    log(f"{dataset}: converted ({time.perf_counter() - t:.0f} s): {json.dumps(summary['split'])}")
    out_dir, logs = args.work_dir / "out" / dataset, args.work_dir / "logs" / dataset
    runs: dict[str, dict[str, Any]] = {}
    epochs = plan["quick"]["cartograph_epochs"] if args.quick else \
        plan["datasets"][dataset].get("Cartograph", {}).get("max_epochs")
    runs["Cartograph"] = run_json(worker_command(args, "cartograph", out_dir / "Cartograph.json", dataset=dataset,
                                                 epochs=epochs, top_k=plan["top_k"]),
                                  out_dir / "Cartograph.json", log_path=logs / "Cartograph.log")
    log(f"{dataset}: Cartograph done ({runs['Cartograph'].get('error') or runs['Cartograph']['train_seconds']})")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "OMP_NUM_THREADS": str(args.threads)}
    scratch = args.work_dir / "run"  # RecBole writes log_tensorboard/ into its working directory
    scratch.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        skip = plan["datasets"][dataset].get(model, {}).get("skip")
        if skip:
            runs[model] = {"error": f"not run: {skip}"}
            log(f"{dataset}: {model} not run ({skip})")
            continue
        if args.reuse_peers and (out_dir / f"{model}.json").is_file():
            runs[model] = {**json.loads((out_dir / f"{model}.json").read_text(encoding="utf-8")), "reused": True}
            log(f"{dataset}: {model} reused from {out_dir / f'{model}.json'}")
            continue
        runs[model] = run_json(peer_command(args, dataset, model, plan), out_dir / f"{model}.json", env=env,
                               cwd=scratch, log_path=logs / f"{model}.log")
        log(f"{dataset}: {model} done ({runs[model].get('error') or runs[model]['train_seconds']})")
    models: dict[str, Any] = {}
    for name in [*args.models, "Cartograph"]:
        doc = runs[name]
        if "error" in doc:
            models[name] = doc
            continue
        models[name] = summarise(doc, cartograph_side.evaluate_export(doc, snapshot, split))
    return {"split": summary, "models": models}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1-2 epochs per model; writes peers_quick.*")
    ap.add_argument("--datasets", default=",".join(convert.DATASETS))
    ap.add_argument("--models", default=",".join(PEER_MODELS), help="RecBole models, comma-separated")
    ap.add_argument("--no-book", action="store_true", help="skip amazon-book-kgat")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--plan", type=Path, default=ROOT / "bench" / "configs" / "peers.json")
    ap.add_argument("--peers-python", type=Path, default=ROOT / ".venv-peers" / "bin" / "python")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--reuse-peers", action="store_true",
                    help="take each peer's export from an earlier run in --work-dir (same split: convert checks it) "
                         "and train only Cartograph; the report marks the reused rows")
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
        "quick": args.quick, "threads": args.threads, "plan": plan, "datasets": {},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine()},
        "metric_code": "gnn.metrics.evaluate_rankings on each model's exported top-100 (train+valid items excluded)",
    }
    stem = "peers_quick" if args.quick else "peers"
    previous = args.out / f"{stem}.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text(encoding="utf-8"))
        doc["datasets"] = old.get("datasets", {})
        if "amazon-book-kgat" in old:
            doc["amazon-book-kgat"] = old["amazon-book-kgat"]
    for dataset in [d for d in args.datasets.split(",") if d]:
        doc["datasets"][dataset] = run_dataset(args, dataset, plan)
        doc["wall_seconds"] = round(time.perf_counter() - start, 1)
        write_results(doc, args.out, stem)  # after each dataset, so that a long run shows what it has
    if not args.no_book:
        out = args.work_dir / "out" / "amazon-book-kgat.json"
        epochs = plan["quick"]["book_epochs"] if args.quick else None
        book = run_json(worker_command(args, "amazon-book", out, epochs=epochs), out,
                        log_path=args.work_dir / "logs" / "amazon-book-kgat.log")
        if "error" in book:
            log(f"amazon-book-kgat failed: {book['error']}")
        else:
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
