"""Probe (not served): how should the transition lookup's counts be normalised? The lookup
(:class:`gnn.transitions.TransitionLookup`) reads ``T[i, j]``, the share of the times product ``i`` was followed
by ``j`` (within the window: 1, 0.5, 0.25). Item-to-item recommenders damp both ends of such a count: a product
followed by many (``i`` with a large out-degree) says less about each follower, and a product that follows
everything (``j`` popular) is less specific to ``i``. Here the window counts ``C`` are scored as
``C[i, j] / out(i) ** alpha / in(j) ** beta`` (alpha 1, beta 0: the served matrix), read at the newest ``last``
items with ``decay``; each cell as a ranking on its own over the histories known at each phase, with the tables'
metric code, the cell chosen on validation printed with its test figure:

    python bench/probes/lookup_weighting.py --dataset ml-100k-kg
    python bench/probes/lookup_weighting.py --dataset amazon-beauty --work-dir var/bench-beauty
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from quality import VARIANTS, prepare  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import _ranking_task  # noqa: E402
from gnn.metrics import evaluate_ranking  # noqa: E402
from gnn.transitions import transition_counts  # noqa: E402


def weighted(counts: sp.csr_matrix, alpha: float, beta: float) -> sp.csr_matrix:
    out = np.asarray(counts.sum(axis=1)).ravel()
    into = np.asarray(counts.sum(axis=0)).ravel()
    left = np.where(out > 0, np.maximum(out, 1e-12) ** -alpha, 0.0)
    right = np.where(into > 0, np.maximum(into, 1e-12) ** -beta, 0.0)
    return (sp.diags(left) @ counts @ sp.diags(right)).tocsr()


def lookup_scores(histories: list[np.ndarray], matrix: sp.csr_matrix, last: int, decay: float) -> torch.Tensor:
    size = matrix.shape[0]
    rows, cols, vals = [], [], []
    for user, h in enumerate(histories):
        tail = h[-last:]
        rows += [user] * len(tail)
        cols += tail.tolist()
        vals += (decay ** np.arange(len(tail))[::-1]).tolist()
    selector = sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), size))
    return torch.from_numpy((selector @ matrix).toarray().astype(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k-kg")
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work-dir", type=Path, help="the bench's work folder (default var/bench-<dataset>)")
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--alphas", default="1,0.75,0.5")
    ap.add_argument("--betas", default="0,0.25,0.5")
    ap.add_argument("--lasts", default="3,5")
    ap.add_argument("--decays", default="0.5,0.7")
    args = ap.parse_args()
    work = args.work_dir or Path("var") / f"bench-{args.dataset}"
    prepared = prepare(args.dataset, args.data_dir, work, TrainConfig.model_validate(VARIANTS["standard"]))
    size = prepared.split.num_products
    grid = list(itertools.product(*(map(float, s.split(",")) for s in (args.alphas, args.betas, args.lasts,
                                                                         args.decays))))
    results: dict[str, dict[tuple[float, ...], float]] = {}
    for phase in ("valid", "test"):
        histories = prepared.histories(phase)
        task = _ranking_task(prepared, phase)
        counts = transition_counts(histories, size, args.window)
        results[phase] = {}
        for alpha, beta, last, decay in grid:
            table = lookup_scores(histories, weighted(counts, alpha, beta), int(last), decay)
            ndcg = evaluate_ranking(lambda users, t=table: t[users], **task)["ndcg@10"]
            results[phase][(alpha, beta, last, decay)] = ndcg
            print(f"{phase} alpha {alpha} beta {beta} last {int(last)} decay {decay}: NDCG@10 {ndcg:.4f}", flush=True)
    served = (1.0, 0.0, 3.0, 0.5)
    best = max(grid, key=lambda cell: results["valid"][cell])
    for name, cell in (("served (alpha 1, beta 0, last 3, decay 0.5)", served), ("chosen on validation", best)):
        if cell in results["valid"]:
            print(f"{name} {cell}: valid {results['valid'][cell]:.4f} test {results['test'][cell]:.4f}")


if __name__ == "__main__":
    main()
