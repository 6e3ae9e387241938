"""One peer row's seeds, reported in several peers reports, merged into one per-user archive.

    python bench/merge_peer_seeds.py peers_ml100k_sasrec3 peers_ml100k_sasrec_2023_2024 --dataset ml-100k-kg \
        --row SASRec --stem peers_ml100k_sasrec5

A peers report (``bench/peers.py``) keeps, per row, the per-user test NDCG@10 averaged over the seeds it found
(``bench/results/<stem>_per_user/<dataset>.npz``) and each seed's figures in ``<stem>.json``; the exports
themselves stay on the machine that trained them. When a row's seeds were trained and reported at different
times, their mean over all seeds is, per user, the reports' means weighted by how many seeds each holds, which
is what this writes: ``bench/results/<stem>_per_user/<dataset>.npz`` (the row only, for ``bench/seed_mean.py
--peers``) and ``bench/results/<stem>.{json,md}`` (every seed's figures and the merged mean). A seed found in two
reports is refused: it would count twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

from report import write_report  # noqa: E402


class MergeError(ValueError):
    """The reports cannot be merged (missing, the row absent, different users, a seed counted twice)."""


def report_part(results: Path, stem: str, dataset: str, row: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(seeds, per-user mean over them)`` of ``row`` in report ``stem``."""
    doc_path, archive = results / f"{stem}.json", results / f"{stem}_per_user" / f"{dataset}.npz"
    for path in (doc_path, archive):
        if not path.is_file():
            raise MergeError(f"{path}: no such file (a bench/peers.py report writes both)")
    rows = json.loads(doc_path.read_text(encoding="utf-8")).get("datasets", {}).get(dataset, {}).get("rows", {})
    if "seeds" not in rows.get(row, {}):
        raise MergeError(f"{doc_path}: no {row!r} row with seeds on {dataset}")
    with np.load(archive) as npz:
        if row not in npz.files:
            raise MergeError(f"{archive}: no {row!r} array")
        return rows[row]["seeds"], npz[row].astype(np.float64)


def merge(parts: list[tuple[list[dict[str, Any]], np.ndarray]]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """All seeds, and the per-user mean over them (each part's mean weighted by its number of seeds)."""
    if len({per_user.shape for _, per_user in parts}) != 1:
        raise MergeError(f"the reports hold different numbers of users: {[p.shape for _, p in parts]}")
    seeds = [seed for part_seeds, _ in parts for seed in part_seeds]
    numbers = [seed.get("seed") for seed in seeds]
    if len(set(numbers)) != len(numbers):
        raise MergeError(f"a seed appears in more than one report: {numbers}")
    weights = np.array([len(part_seeds) for part_seeds, _ in parts], dtype=np.float64)
    stacked = np.stack([per_user for _, per_user in parts])
    return seeds, (weights[:, None] * stacked).sum(axis=0) / weights.sum()


def archive_name(path: Path) -> str:
    """The archive's path from the repository root where it is inside it (results stay free of machine paths)."""
    resolved = path.resolve()
    return str(resolved.relative_to(HERE.parent)) if resolved.is_relative_to(HERE.parent) else str(path)


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"## {doc['row']} on {doc['dataset']}, {len(doc['seeds'])} seeds from {', '.join(doc['reports'])}: "
             f"test NDCG@10 **{doc['mean_ndcg@10']:.4f}**", "",
             "| seed | test NDCG@10 | converged | best / run epochs |", "|---:|---:|---|---:|"]
    for seed in doc["seeds"]:
        lines.append(f"| {seed.get('seed')} | {seed['metrics']['ndcg@10']:.4f} | {seed.get('converged')} | "
                     f"{seed.get('best_epoch')} / {seed.get('epochs_run')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", help="stems of bench/peers.py reports in --results")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--row", required=True, help="the peer row to merge, e.g. SASRec")
    ap.add_argument("--stem", required=True, help="name of the merged report")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    try:
        seeds, per_user = merge([report_part(args.results, s, args.dataset, args.row) for s in args.reports])
    except MergeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    archive = args.results / f"{args.stem}_per_user" / f"{args.dataset}.npz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(archive, **{args.row: per_user.astype(np.float32)})
    doc = {"dataset": args.dataset, "row": args.row, "reports": args.reports, "seeds": seeds,
           "mean_ndcg@10": float(per_user.mean()), "archive": archive_name(archive)}
    write_report(args.results, args.stem, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
