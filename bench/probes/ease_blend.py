"""Probe (not served): does EASE's score over a decayed history add to kg_sasrec's served scores?

    python bench/seed_ensemble.py --dataset ml-100k-kg --data-dir ../shared/data --seeds 0,1 \\
        --work-dir var/bench-ml-100k-kg --out var/scratch      # keeps each seed's [U, P] served scores
    python bench/probes/ease_blend.py --dataset ml-100k-kg --seeds 0

Exact EASE (``l2`` 200 and 500, :func:`gnn.baselines.ease.ease_weights`) solved on each phase's histories, the
history weighted by ``decay ** age``, added to the saved scores at weight ``w`` (in units of the spread of the
model's scores over EASE's). The cell is chosen on validation; its test figure is printed beside it. Same
metric code as the tables (:func:`gnn.metrics.evaluate_ranking`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from quality import VARIANTS, prepare  # noqa: E402

from gnn.baselines.ease import ease_weights  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import _ranking_task  # noqa: E402
from gnn.metrics import evaluate_ranking  # noqa: E402

L2S, DECAYS, WEIGHTS = (200.0, 500.0), (0.8, 0.9), (0.0, 0.125, 0.25, 0.5, 1.0)


def decayed(histories: list[np.ndarray], num_products: int, decay: float) -> sp.csr_matrix:
    """``[U, P]``: each history item weighted by ``decay`` to the power of how many items came after it."""
    rows, cols, vals = [], [], []
    for user, history in enumerate(histories):
        rows += [user] * len(history)
        cols += list(history)
        vals += list(decay ** np.arange(len(history))[::-1])
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), num_products), dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k-kg")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    work = Path("var") / f"bench-{args.dataset}"
    prepared = prepare(args.dataset, args.data_dir, work, TrainConfig.model_validate(VARIANTS["standard"]))
    num_products = prepared.split.num_products
    ease: dict[tuple[str, float, float], torch.Tensor] = {}
    for phase in ("valid", "test"):
        histories = prepared.histories(phase)
        binary = decayed(histories, num_products, 1.0)
        for l2 in L2S:
            weights = ease_weights(binary, l2).numpy()
            for decay in DECAYS:
                ease[phase, l2, decay] = torch.from_numpy(decayed(histories, num_products, decay) @ weights)
    tasks = {phase: _ranking_task(prepared, phase) for phase in ("valid", "test")}
    for seed in (int(s) for s in args.seeds.split(",")):
        saved = np.load(work / "seed_ensemble" / args.dataset / f"seed{seed}.npz")
        figures: dict[tuple[str, float, float, float], float] = {}
        for (phase, l2, decay), extra in ease.items():
            model = torch.from_numpy(saved[phase])
            ratio = float(model.std(dim=1).mean() / extra.std(dim=1).mean())
            for w in WEIGHTS:
                blended = model + (w * ratio) * extra
                figures[phase, l2, decay, w] = evaluate_ranking(lambda users, b=blended: b[users],
                                                                **tasks[phase])["ndcg@10"]
        cells = sorted({key[1:] for key in figures})
        best = max(cells, key=lambda cell: figures[("valid", *cell)])
        base = (*cells[0][:2], 0.0)
        print(f"seed {seed}: model alone valid {figures[('valid', *base)]:.4f} test {figures[('test', *base)]:.4f}; "
              f"best on valid (l2, decay, w) = {best}: valid {figures[('valid', *best)]:.4f} "
              f"test {figures[('test', *best)]:.4f}")
        for cell in cells:
            print(f"  {cell}: valid {figures[('valid', *cell)]:.4f} test {figures[('test', *cell)]:.4f}")


if __name__ == "__main__":
    main()
