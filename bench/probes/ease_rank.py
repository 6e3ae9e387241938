"""Probe (not served): what EASE's factored serving form costs against its exact scores, and what a sparse
``B`` (the largest entries of each row kept) would keep instead.

    python bench/probes/ease_rank.py --dataset amazon-book-kgat --ranks 512,1024,2048 --keep 64,256

One solve on the validation phase's histories (:func:`gnn.baselines.ease.ease_weights`, ``l2`` as
TrainConfig's ``ease_l2``); validation NDCG@10 of the exact scores ``x_u B``, of the rank-``r`` factors
(:func:`gnn.baselines.ease.factor`, what the bundle serves) and of ``B`` with only the ``k`` largest entries of
each row kept. Same metric code as the tables (:func:`gnn.metrics.evaluate_ranking`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from quality import VARIANTS, prepare  # noqa: E402

from gnn.baselines.ease import ease_weights, factor, interaction_matrix  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import _ranking_task  # noqa: E402
from gnn.metrics import ScoreFn, evaluate_ranking  # noqa: E402


def row_top_k(weights: torch.Tensor, keep: int) -> sp.csr_matrix:
    """``weights`` with only the ``keep`` largest entries of each row (a product's strongest successors)."""
    values, columns = weights.topk(keep, dim=1)
    rows = torch.arange(weights.size(0)).repeat_interleave(keep)
    return sp.csr_matrix((values.flatten().numpy(), (rows.numpy(), columns.flatten().numpy())),
                         shape=tuple(weights.shape))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="amazon-book-kgat")
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--ranks", default="512,1024,2048")
    ap.add_argument("--keep", default="64,256")
    args = ap.parse_args()
    config = TrainConfig.model_validate(VARIANTS["standard"])
    prepared = prepare(args.dataset, args.data_dir, Path("var") / f"bench-{args.dataset}", config)
    task = _ranking_task(prepared, "valid")
    num_users, num_products = prepared.split.num_users, prepared.split.num_products
    train = prepared.split.train
    x = interaction_matrix(train[0], train[1], num_users, num_products)
    t = time.perf_counter()
    weights = ease_weights(x, config.ease_l2)
    print(f"solve: {time.perf_counter() - t:.0f} s", flush=True)

    def report(name: str, score: ScoreFn) -> None:
        t = time.perf_counter()
        ndcg = evaluate_ranking(score, **task)["ndcg@10"]
        print(f"{name}: valid NDCG@10 {ndcg:.4f} ({time.perf_counter() - t:.0f} s)", flush=True)

    dense = weights.numpy()
    report("exact", lambda users: torch.from_numpy(x[users.numpy()] @ dense))
    for keep in (int(k) for k in args.keep.split(",") if k):
        sparse = row_top_k(weights, keep)
        report(f"row top-{keep}", lambda users, s=sparse: torch.from_numpy((x[users.numpy()] @ s).toarray()))
    for rank in (int(r) for r in args.ranks.split(",") if r):
        t = time.perf_counter()
        left, right = factor(weights, rank)
        print(f"rank {rank}: factored in {time.perf_counter() - t:.0f} s", flush=True)
        user_rows = torch.from_numpy(np.asarray(x @ left.numpy(), dtype=np.float32))
        report(f"rank {rank}", lambda users, u=user_rows, v=right: u[users] @ v.T)


if __name__ == "__main__":
    main()
