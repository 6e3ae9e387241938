"""Probe (not served): how many products have an empty transition-lookup column on the standard split, so that
a ``cold_lookup_gain`` lends them their text neighbours' columns (:func:`gnn.transitions.lookup_matrix`) even
though they have a trained id: a product that nothing in the histories known at test time (train + valid) was
ever followed into. Prints the products and the test targets on such a column, for the next item (window 1)
and the served 3-step window:

    python bench/probes/empty_columns.py ml-100k-kg amazon-office amazon-beauty
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import datasets  # noqa: E402
import numpy as np  # noqa: E402
from quality import VARIANTS  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.data import split_snapshot, user_histories  # noqa: E402
from gnn.transitions import transition_matrix  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=Path("var/probe-empty-columns"))
    args = parser.parse_args()
    for name in args.datasets:
        snapshot, split = datasets.load(name, args.data_dir, args.work_dir / name)
        if split is None:
            cfg = TrainConfig.model_validate(VARIANTS["standard"])
            split = split_snapshot(snapshot, cold_fraction=cfg.cold_fraction, seed=cfg.seed,
                                   min_interactions=cfg.min_interactions)
        histories = user_histories(snapshot, split, "test")
        targets = split.test[1]
        for window in (1, 3):
            matrix = transition_matrix(histories, snapshot.num_products, window, 1.0)
            empty = np.asarray(matrix.getnnz(axis=0)).ravel() == 0
            print(f"{name}, window {window}: {int(empty.sum())} of {snapshot.num_products} products have an empty "
                  f"column; {int(empty[targets].sum())} of {len(targets)} test targets are one of them")


if __name__ == "__main__":
    main()
