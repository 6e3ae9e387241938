"""Probe (not served): does the transition lookup gain from one matrix per lag? The lookup
(:class:`gnn.transitions.TransitionLookup`) scores the next product with the one-step matrix ``T1`` read at each
of the user's newest items: ``sum_k decay^(k-1) T1[h[-k]]``. But what followed ``h[-2]`` one step later is, in the
user's own history, ``h[-1]``; the next product is two steps after it. A lag-``k`` matrix ``Tk`` (what came ``k``
steps after each product) read at ``h[-k]`` asks the right question for every item, as higher-order Markov models
(Fossil) do. Then a second-order term: what followed the user's last pair of items, added to the one-step lookup at
a weight. Last, the window the lookup now may choose: one matrix counting what came within 3 steps after each
product (1, 0.5, 0.25: :func:`gnn.transitions.transition_matrix` with ``window=3``) read at every newest item.
Each as a ranking on its own, over the histories known at each phase, with the tables' metric code:

    python bench/probes/lagged_lookup.py --dataset ml-100k-kg
    python bench/probes/lagged_lookup.py --dataset amazon-beauty --work-dir var/bench-beauty --only-window
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
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
from gnn.transitions import transition_matrix  # noqa: E402


def lag_matrix(histories: list[np.ndarray], size: int, lag: int) -> sp.csr_matrix:
    """Row-normalised counts of ``(h[t], h[t + lag])``, self pairs left out."""
    rows = np.concatenate([h[:-lag] for h in histories if len(h) > lag])
    cols = np.concatenate([h[lag:] for h in histories if len(h) > lag])
    keep = rows != cols
    counts = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(size, size))
    counts.sum_duplicates()
    degree = np.asarray(counts.sum(axis=1)).ravel()
    return (sp.diags(np.where(degree > 0, 1.0 / np.maximum(degree, 1e-12), 0.0)) @ counts).tocsr()


def scores(histories: list[np.ndarray], matrices: list[sp.csr_matrix], decay: float) -> torch.Tensor:
    size = matrices[0].shape[0]
    out = sp.csr_matrix((len(histories), size))
    for k, matrix in enumerate(matrices, start=1):
        items = np.array([h[-k] if len(h) >= k else -1 for h in histories])
        has = items >= 0
        selector = sp.csr_matrix((np.full(int(has.sum()), decay ** (k - 1)), (np.flatnonzero(has), items[has])),
                                 shape=(len(histories), size))
        out = out + selector @ matrix
    return torch.from_numpy(out.toarray().astype(np.float32))


def pair_scores(histories: list[np.ndarray], size: int) -> tuple[torch.Tensor, int]:
    """``[U, P]`` the share of times each product followed the user's last pair ``(h[-2], h[-1])`` in any history,
    and how many users' last pairs were seen before."""
    followers: dict[tuple[int, int], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for h in histories:
        for a, b, c in zip(h[:-2].tolist(), h[1:-1].tolist(), h[2:].tolist(), strict=True):
            if c not in (a, b):
                followers[(a, b)][c] += 1
    out, found = torch.zeros(len(histories), size), 0
    for user, h in enumerate(histories):
        seen = followers.get((int(h[-2]), int(h[-1]))) if len(h) >= 2 else None
        if seen:
            found += 1
            total = sum(seen.values())
            for product, count in seen.items():
                out[user, product] = count / total
    return out, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k-kg")
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--last", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, help="the bench's work folder (default var/bench-<dataset>)")
    ap.add_argument("--only-window", action="store_true", help="only the window comparison (large catalogs)")
    args = ap.parse_args()
    work = args.work_dir or Path("var") / f"bench-{args.dataset}"
    prepared = prepare(args.dataset, args.data_dir, work, TrainConfig.model_validate(VARIANTS["standard"]))
    size = prepared.split.num_products
    for phase in ("valid", "test"):
        histories = prepared.histories(phase)
        task = _ranking_task(prepared, phase)
        one = lag_matrix(histories, size, 1)
        window = transition_matrix(histories, size, window=3)
        for decay in (0.3, 0.5, 0.7):
            for name, matrix in (("next item", one), ("within 3 steps", window)):
                table = scores(histories, [matrix] * args.last, decay)
                ndcg = evaluate_ranking(lambda users, t=table: t[users], **task)["ndcg@10"]
                print(f"{phase} last {args.last} decay {decay}: {name}: NDCG@10 {ndcg:.4f}", flush=True)
        if args.only_window:
            continue
        lagged = [lag_matrix(histories, size, k) for k in range(1, args.last + 1)]
        for decay in (0.3, 0.5, 0.7, 1.0):
            for name, matrices in (("T1 at every item", [one] * args.last), ("Tk at h[-k]", lagged)):
                table = scores(histories, matrices, decay)
                ndcg = evaluate_ranking(lambda users, t=table: t[users], **task)["ndcg@10"]
                print(f"{phase} last {args.last} decay {decay}: {name}: NDCG@10 {ndcg:.4f}", flush=True)
        base = scores(histories, [one] * args.last, 0.5)
        pairs, found = pair_scores(histories, size)
        for weight in (0.0, 0.5, 1.0, 2.0, 4.0):
            table = base + weight * pairs
            ndcg = evaluate_ranking(lambda users, t=table: t[users], **task)["ndcg@10"]
            print(f"{phase} one-step lookup (decay 0.5) + {weight} x last-pair followers ({found} users' last pair "
                  f"seen): NDCG@10 {ndcg:.4f}", flush=True)


if __name__ == "__main__":
    main()
