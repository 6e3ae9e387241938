"""The served model's test figure averaged over seeds, against the peers' archived per-user figures.

    python bench/seed_mean.py bench/results/quality_amazon-beauty_standard_seed{0,1,2}.per_user.npz \
        --peers bench/results/peers_beauty_kg_per_user/amazon-beauty.npz \
                bench/results/peers_beauty_seq_per_user/amazon-beauty.npz --stem seeds_amazon-beauty

Each ``bench/quality.py`` run (one seed) writes its per-user test NDCG@10 (``<stem>.per_user.npz``, users in
index order); a peers report writes every row's (``bench/results/<stem>_per_user/<dataset>.npz``, the mean over
that row's seeds, the same users in the same order). Here the served model is represented, per user, by its mean
over the runs given, as ``bench/peers/significance.py`` represents a row trained with several seeds, and gets the
same paired bootstrap interval (2,000 resamples) against every peer row. A row found in several archives is
taken from the first. With ``--row Cartograph`` the runs are peers archives themselves, whose Cartograph row (the
mean over that report's seeds) stands for the served model. Writes ``bench/results/<stem>.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))  # significance.py (bench/peers.py takes the name "peers")

from pool_slices import PoolError, load_runs  # noqa: E402
from report import write_report  # noqa: E402
from significance import SANITY, bootstrap_ratio  # noqa: E402

#: Rows of a peers archive that are Cartograph itself (an older run of it) or its own candidates.
OWN_PREFIX = "Cartograph"


def seed_mean(runs: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    """Per-user mean of ``key`` over the runs; every run must hold it for the same users."""
    arrays = [run[key] for run in runs]
    if len({a.shape for a in arrays}) != 1:
        raise PoolError(f"the runs hold {key} for different numbers of users: {[a.shape for a in arrays]}")
    return np.mean(np.stack(arrays), axis=0)


def peer_rows(paths: list[Path], users: int) -> dict[str, np.ndarray]:
    """Every non-Cartograph row of the archives, the first archive's where several hold it."""
    rows: dict[str, np.ndarray] = {}
    for path in paths:
        if not path.is_file():
            raise PoolError(f"{path}: no such file (a peers report archives <stem>_per_user/<dataset>.npz)")
        with np.load(path) as npz:
            for name in npz.files:
                if name.startswith(OWN_PREFIX) or name in rows:
                    continue
                if npz[name].shape != (users,):
                    raise PoolError(f"{path}: {name} has {npz[name].shape[0]} users, the runs {users}")
                rows[name] = npz[name]
    return rows


def compare(ours: np.ndarray, peers: dict[str, np.ndarray]) -> dict[str, Any]:
    """``{peer: {"ours", "theirs", "sanity", ratio and interval}}``."""
    return {name: {"ours": float(ours.mean()), "theirs": float(theirs.mean()), "sanity": name in SANITY,
                   **bootstrap_ratio(ours, theirs)} for name, theirs in peers.items()}


def markdown(doc: dict[str, Any]) -> str:
    per_run = ", ".join(f"{v:.4f}" for v in doc["per_run"])
    title = (f"## {doc['served']}, mean of {len(doc['runs'])} runs: test NDCG@10 **{doc['mean']:.4f}** "
             f"(per run: {per_run}; std {doc['std']:.4f})")
    if doc.get("row"):
        title = (f"## {doc['served']}: the {doc['row']} row of {', '.join(doc['runs'])} (that report's mean over its "
                 f"seeds): test NDCG@10 **{doc['mean']:.4f}**")
    lines = [title, "",
             f"Runs: {', '.join(doc['runs'])}. Peers: {', '.join(doc['peers_from'])}.", "",
             "| peer (per-user archive) | peer NDCG@10 | ratio | 95% interval | P(ratio >= 1.10) |",
             "|---|---:|---:|---|---:|"]
    for name, r in sorted(doc["ratios"].items(), key=lambda kv: -kv[1]["theirs"]):
        high = "unbounded" if r["ci95_high"] is None else f"{r['ci95_high']:.2f}"
        label = f"{name} (sanity)" if r["sanity"] else name
        lines.append(f"| {label} | {r['theirs']:.4f} | {r['ratio']:.2f}x | {r['ci95_low']:.2f} - {high} | "
                     f"{r['p_at_least_target']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="<stem>.per_user.npz files of bench/quality.py, one per seed")
    ap.add_argument("--peers", type=Path, nargs="+", required=True, help="peers per-user archives (<dataset>.npz)")
    ap.add_argument("--served", default="kg_sasrec", help="the model the runs served")
    ap.add_argument("--row", help="read the runs as peers archives and take this row of each (e.g. Cartograph: a "
                    "peers report's own seed mean, where the per-seed quality runs were not kept)")
    ap.add_argument("--stem", required=True, help="name of the result files")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    key = args.row or f"test/{args.served}"
    try:
        runs = load_runs(args.runs)
        if key not in runs[0]:
            raise PoolError(f"no per-user test figures of {args.row or args.served!r} in the runs")
        ours = seed_mean(runs, key)
        peers = peer_rows(args.peers, len(ours))
    except PoolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    per_run = [float(run[key].mean()) for run in runs]
    names = [str(p) if args.row else p.name.removesuffix(".per_user.npz") for p in args.runs]
    doc = {"served": args.served, "row": args.row, "runs": names,
           "peers_from": [str(p) for p in args.peers], "per_run": per_run, "mean": float(ours.mean()),
           "std": float(np.std(per_run, ddof=1)) if len(per_run) > 1 else 0.0, "ratios": compare(ours, peers)}
    write_report(args.out, args.stem, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
