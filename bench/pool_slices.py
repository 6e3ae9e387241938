"""Pool several runs of ``bench/quality.py`` (e.g. three cold slices, one per seed) into one ratio per pair.

    python bench/pool_slices.py bench/results/quality_ml-100k-kg_cold_new-text{,-seed1,-seed2}.per_user.npz \
        --stem quality_ml-100k-kg_cold_new-text_pooled

A cold slice withholds a seeded 5% of the products, about 80 films on ml-100k-kg: which films fall in it moves
the ratio to text-only more than the model does (0.14x to 1.59x on three seeds). Each run's per-user figures
(``<stem>.per_user.npz``, written beside its JSON) are concatenated, a (user, slice) pair being one unit, and
the served model's mean over the other model's gets the same paired bootstrap interval as one run's
(``bench/peers/significance.py``: 2,000 resamples). Every pair is also listed run by run. Writes
``bench/results/<stem>.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))  # significance.py (bench/peers.py takes the name "peers")

from report import write_report  # noqa: E402
from significance import bootstrap_ratio  # noqa: E402

#: The figure each set's ratio is taken on, as bench/quality.py's RATIO_METRIC.
METRIC = {"test": "test ndcg@10", "cold": "cold recall@20"}


class PoolError(ValueError):
    """The runs do not hold the same arrays, or hold none."""


def load_runs(paths: list[Path]) -> list[dict[str, np.ndarray]]:
    runs = []
    for path in paths:
        if not path.is_file():
            raise PoolError(f"{path}: no such file (bench/quality.py writes <stem>.per_user.npz beside its JSON)")
        with np.load(path) as npz:
            runs.append({key: npz[key] for key in npz.files})
    keys = [set(r) for r in runs]
    if not keys or not keys[0] or any(k != keys[0] for k in keys):
        raise PoolError(f"the runs must hold the same per-user arrays; they hold {[sorted(k) for k in keys]}")
    return runs


def pooled_ratios(runs: list[dict[str, np.ndarray]], served: str) -> dict[str, Any]:
    """``{"<set>: <served> / <other>": {"metric", "runs": [per-run ratio], "ours", "theirs", "units", ratio and
    interval}}`` over the concatenated per-user figures of every run."""
    out: dict[str, Any] = {}
    for key in sorted(runs[0]):
        which, _, name = key.partition("/")
        if name == served or f"{which}/{served}" not in runs[0]:
            continue
        ours = np.concatenate([r[f"{which}/{served}"] for r in runs])
        theirs = np.concatenate([r[key] for r in runs])
        per_run = [float(r[f"{which}/{served}"].mean() / r[key].mean()) if r[key].mean() > 0 else None
                   for r in runs]
        out[f"{which}: {served} / {name}"] = {
            "metric": METRIC.get(which, which), "ours": float(ours.mean()), "theirs": float(theirs.mean()),
            "units": len(ours), "runs": per_run, **bootstrap_ratio(ours, theirs)}
    return out


def markdown(doc: dict[str, Any]) -> str:
    def bound(v: float | None) -> str:
        return "unbounded" if v is None else f"{v:.3f}"

    lines = [f"## Pooled over {len(doc['runs'])} runs: {', '.join(doc['runs'])}", "",
             "| ratio | of | served | other | (user, run) units | pooled ratio | 95% interval | run by run |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    for name, r in doc["ratios"].items():
        runs = ", ".join("-" if v is None else f"{v:.3f}" for v in r["runs"])
        lines.append(f"| {name} | {r['metric']} | {r['ours']:.4f} | {r['theirs']:.4f} | {r['units']} | "
                     f"{r['ratio']:.3f} | {r['ci95_low']:.3f} - {bound(r['ci95_high'])} | {runs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="<stem>.per_user.npz files of bench/quality.py runs")
    ap.add_argument("--served", default="kg_sasrec", help="the model whose ratios to the others are pooled")
    ap.add_argument("--stem", required=True, help="name of the result files")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    try:
        runs = load_runs(args.runs)
    except PoolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not any(k.endswith(f"/{args.served}") for k in runs[0]):
        print(f"error: no per-user figures of {args.served!r} in the runs", file=sys.stderr)
        return 2
    doc = {"runs": [p.name.removesuffix(".per_user.npz") for p in args.runs], "served": args.served,
           "ratios": pooled_ratios(runs, args.served)}
    write_report(args.out, args.stem, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
