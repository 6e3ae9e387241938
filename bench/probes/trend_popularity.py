"""Probe (not served): is "popular lately" a signal on a catalog? Each product's interactions in the ``W`` days
before the time of the target being ranked, counted over the interactions known for that phase (train for
validation, train + valid for the test) and only those strictly before it: time-consistent, unlike the global
popularity every table has.

    python bench/probes/trend_popularity.py --dataset ml-100k-kg

Prints valid and test NDCG@10 for each window (10,000 days: all earlier interactions) with the tables' metric code
(:func:`gnn.metrics.evaluate_ranking`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from quality import VARIANTS, prepare  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import _ranking_task  # noqa: E402
from gnn.metrics import evaluate_ranking  # noqa: E402

WINDOWS_DAYS = (1, 7, 30, 90, 10_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k-kg")
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    work = Path("var") / f"bench-{args.dataset}"
    prepared = prepare(args.dataset, args.data_dir, work, TrainConfig.model_validate(VARIANTS["standard"]))
    snapshot, split = prepared.snapshot, prepared.split
    latest: dict[tuple[int, int], int] = {}
    for user, product, ts in zip(snapshot.inter_user, snapshot.inter_product, snapshot.inter_ts, strict=True):
        key = (int(user), int(product))
        latest[key] = max(latest.get(key, -1), int(ts))

    def times(pairs: np.ndarray) -> np.ndarray:
        return np.array([latest[(int(u), int(p))] for u, p in pairs.T], dtype=np.int64)

    for phase in ("valid", "test"):
        known = split.known(phase)
        known_times = times(known)
        order = np.argsort(known_times, kind="stable")
        known_ts, known_products = known_times[order], known[1][order]
        target = split.valid if phase == "valid" else split.test
        now = np.zeros(split.num_users, dtype=np.int64)
        now[target[0]] = times(target)
        task = _ranking_task(prepared, phase)
        for days in WINDOWS_DAYS:
            scores = np.zeros((split.num_users, split.num_products), dtype=np.float32)
            for user in np.unique(target[0]):
                lo, hi = np.searchsorted(known_ts, now[user] - days * 86_400), np.searchsorted(known_ts, now[user])
                scores[user] = np.bincount(known_products[lo:hi], minlength=split.num_products)
            table = torch.from_numpy(scores)
            ndcg = evaluate_ranking(lambda users, t=table: t[users], **task)["ndcg@10"]
            print(f"{phase}: products' interactions in the last {days} days: NDCG@10 {ndcg:.4f}")


if __name__ == "__main__":
    main()
