"""Probe (not served): does training kg_sasrec further on train + valid targets lift test?

    python bench/probes/refit.py --dataset ml-100k-kg --seed 0

The valid item is known at test time, yet the trained weights never had it as a target. This trains the
default kg_sasrec, then continues it for 1-3 epochs on the test phase's histories (train + valid) with a fresh
Adam at lr 1e-4 and at 1e-3, printing test NDCG@10 after each. Test only: the refit trains on validation, so
nothing here could be chosen on it; a positive result would need an inner split to choose the epochs.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from quality import prepare  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import evaluate_phases, ranking_inputs  # noqa: E402
from gnn.train import train_model  # noqa: E402
from gnn.train_sequence import _epoch, training_windows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-100k-kg")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    config = TrainConfig.model_validate({"model": "kg_sasrec", "num_threads": args.threads, "seed": args.seed})
    prepared = prepare(args.dataset, args.data_dir, Path("var") / f"bench-{args.dataset}", config)
    result = train_model(prepared, config, progress=False, evaluate=("test",))
    print(f"seed {args.seed}: valid {result.metrics['valid']['ndcg@10']:.4f}, "
          f"test {result.metrics['test']['ndcg@10']:.4f} (best epoch {result.best_epoch})")
    on_test_graph = copy.copy(prepared)
    on_test_graph.data = prepared.graph_for("test")
    windows = training_windows(prepared.histories("test"), config.seq_max_len, all_windows=config.seq_all_windows)
    for lr in (1e-4, 1e-3):
        model = copy.deepcopy(result.model)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)
        rng = np.random.default_rng(args.seed + 100)
        for epoch in (1, 2, 3):
            _epoch(model, optimizer, on_test_graph, windows, config, rng)
            model.eval()
            test = evaluate_phases(prepared, lambda phase, m=model: ranking_inputs(m, prepared, phase),
                                   which=("test",))["test"]
            print(f"  lr {lr}, {epoch} refit epoch(s): test {test['ndcg@10']:.4f}")


if __name__ == "__main__":
    main()
