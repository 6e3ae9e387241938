"""The served model's test figure averaged over seeds, against the peers' archived per-user figures.

    python bench/seed_mean.py bench/results/quality_amazon-beauty_standard_seed{0,1,2}.per_user.npz \
        --peers bench/results/peers_beauty_kg_per_user/amazon-beauty.npz \
                bench/results/peers_beauty_seq_per_user/amazon-beauty.npz --stem seeds_amazon-beauty

Each ``bench/quality.py`` run (one seed) writes its per-user test NDCG@10 (``<stem>.per_user.npz``, users in
index order); a peers report writes every row's (``bench/results/<stem>_per_user/<dataset>.npz``, the mean over
that row's seeds, the same users in the same order). Here the served model is represented, per user, by its mean
over the runs given, as ``bench/peers/significance.py`` represents a row trained with several seeds, and gets the
same paired bootstrap interval (2,000 resamples) against every peer row. That interval is over users only: it
says how much the figure would move on other users, not on other seeds. With several runs a second interval
resamples both (:func:`seed_and_user_bootstrap`: each resample draws the runs with replacement, then the users),
which is wider by the served model's spread from seed to seed (the peers' archives hold only their seed mean,
so their own spread is not in it). A row found in several archives is taken from the first. With ``--row
Cartograph`` the runs are peers archives themselves, whose Cartograph row (the mean over that report's seeds)
stands for the served model. Writes ``bench/results/<stem>.{json,md}``.
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
from significance import SANITY, TARGET, bootstrap_ratio, resampled_ratios  # noqa: E402

#: Rows of a peers archive that are Cartograph itself (an older run of it) or its own candidates.
OWN_PREFIX = "Cartograph"


def stacked_runs(runs: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    """``[S, U]`` ``key`` of every run; every run must hold it for the same users."""
    arrays = [run[key] for run in runs]
    if len({a.shape for a in arrays}) != 1:
        raise PoolError(f"the runs hold {key} for different numbers of users: {[a.shape for a in arrays]}")
    return np.stack(arrays).astype(np.float64)


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


def seed_and_user_bootstrap(runs: np.ndarray, theirs: np.ndarray, *, resamples: int = 2000,
                            seed: int = 0) -> dict[str, float | None]:
    """95% percentile interval of ``mean(runs) / mean(theirs)`` when both the runs and the users are resampled.

    Args:
        runs: ``[S, U]`` the served model's per-user figures, one row per seed.
        theirs: ``[U]`` the peer's per-user figures (its mean over its own seeds).
    Each resample draws ``S`` runs with replacement and averages them per user, then draws ``U`` users with
    replacement (the same users for both models: paired). As in ``significance.bootstrap_ratio``, a resample in
    which the peer scores 0 has an infinite ratio (0 / 0 counts as 1), and an interval reaching one has no upper
    end (None)."""
    rng = np.random.default_rng(seed)
    num, den = np.empty(resamples), np.empty(resamples)
    for r in range(resamples):
        ours = runs[rng.integers(0, runs.shape[0], size=runs.shape[0])].mean(0)
        users = rng.integers(0, runs.shape[1], size=runs.shape[1])
        num[r], den[r] = ours[users].mean(), theirs[users].mean()
    ratios = resampled_ratios(num, den)
    with np.errstate(invalid="ignore"):  # inf - inf between two infinite resamples: the end is inf either way
        low, high = (float(np.percentile(ratios, q)) for q in (2.5, 97.5))
    return {"seeds_ci95_low": low, "seeds_ci95_high": high if np.isfinite(high) else None,
            "seeds_p_at_least_target": float((ratios >= TARGET).mean())}


def compare(runs: np.ndarray, peers: dict[str, np.ndarray]) -> dict[str, Any]:
    """``{peer: {"ours", "theirs", "sanity", ratio and interval}}`` for the per-user seed mean of ``runs``
    (``[S, U]``); with more than one run, the seed-and-user interval too."""
    ours = runs.mean(0)
    out: dict[str, Any] = {}
    for name, theirs in peers.items():
        out[name] = {"ours": float(ours.mean()), "theirs": float(theirs.mean()), "sanity": name in SANITY,
                     **bootstrap_ratio(ours, theirs)}
        if runs.shape[0] > 1:
            out[name].update(seed_and_user_bootstrap(runs, theirs))
    return out


def markdown(doc: dict[str, Any]) -> str:
    per_run = ", ".join(f"{v:.4f}" for v in doc["per_run"])
    title = (f"## {doc['served']}, mean of {len(doc['runs'])} runs: test NDCG@10 **{doc['mean']:.4f}** "
             f"(per run: {per_run}; std {doc['std']:.4f})")
    if doc.get("row"):
        title = (f"## {doc['served']}: the {doc['row']} row of {', '.join(doc['runs'])} (that report's mean over its "
                 f"seeds): test NDCG@10 **{doc['mean']:.4f}**")
    lines = [title, "",
             f"Runs: {', '.join(doc['runs'])}. Peers: {', '.join(doc['peers_from'])}.", "",
             "| peer (per-user archive) | peer NDCG@10 | ratio | 95% interval (users) | P(ratio >= 1.10) | "
             "95% interval (seeds and users) | P(ratio >= 1.10) |",
             "|---|---:|---:|---|---:|---|---:|"]
    for name, r in sorted(doc["ratios"].items(), key=lambda kv: -kv[1]["theirs"]):
        high = "unbounded" if r["ci95_high"] is None else f"{r['ci95_high']:.2f}"
        label = f"{name} (sanity)" if r["sanity"] else name
        seeds = "- | -"
        if "seeds_ci95_low" in r:
            seeds_high = "unbounded" if r["seeds_ci95_high"] is None else f"{r['seeds_ci95_high']:.2f}"
            seeds = f"{r['seeds_ci95_low']:.2f} - {seeds_high} | {r['seeds_p_at_least_target']:.3f}"
        lines.append(f"| {label} | {r['theirs']:.4f} | {r['ratio']:.2f}x | {r['ci95_low']:.2f} - {high} | "
                     f"{r['p_at_least_target']:.3f} | {seeds} |")
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
        stacked = stacked_runs(runs, key)
        peers = peer_rows(args.peers, stacked.shape[1])
    except PoolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    per_run = [float(run[key].mean()) for run in runs]
    names = [str(p) if args.row else p.name.removesuffix(".per_user.npz") for p in args.runs]
    doc = {"served": args.served, "row": args.row, "runs": names,
           "peers_from": [str(p) for p in args.peers], "per_run": per_run, "mean": float(stacked.mean()),
           "std": float(np.std(per_run, ddof=1)) if len(per_run) > 1 else 0.0, "ratios": compare(stacked, peers)}
    write_report(args.out, args.stem, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
