"""Does averaging the sequence model over seeds lift it? An experiment, not a served configuration.

    python bench/seed_ensemble.py --dataset ml-100k-kg --data-dir ../shared/data --seeds 0,1,2,3 --threads 1

Trains ``kg_sasrec`` with the default :class:`~gnn.config.TrainConfig` once per seed (the served score: the
channels chosen after training and the transition lookup included), keeps each seed's ``[U, P]`` valid-phase
and test-phase scores in ``<work-dir>/seed_ensemble/<dataset>/seed<N>.npz`` (a rerun trains only the seeds it
lacks), then scores every seed alone and the mean of the scores of every subset of two or more seeds with the
same metric code as the tables (:func:`gnn.metrics.evaluate_ranking`, valid: train excluded; test: train and
valid excluded; warm active products). Seeds differ in initialisation, dropout and batch order.

Writes ``bench/results/seed_ensemble_<dataset>.{json,md}``. Memory: two float32 ``[U, P]`` matrices per seed
(ml-100k-kg: 12 MB a seed; amazon-beauty: 2.2 GB a seed, too much to hold several).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from quality import prepare  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.evaluation import ranking_inputs  # noqa: E402
from gnn.metrics import embedding_score_fn, evaluate_ranking  # noqa: E402
from gnn.prepared import Prepared  # noqa: E402
from gnn.train import train_model  # noqa: E402

PHASES = ("valid", "test")


def seed_scores(prepared: Prepared, config: TrainConfig) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train one seed; its ``{"valid", "test"}`` ``[U, P]`` scores and a summary (figures, epochs, seconds)."""
    started = time.perf_counter()
    result = train_model(prepared, config, progress=False, evaluate=("test",))
    users = torch.arange(prepared.split.num_users)
    scores = {}
    for phase in PHASES:
        score = embedding_score_fn(*ranking_inputs(result.model, prepared, phase))
        with torch.no_grad():
            scores[phase] = torch.cat([score(batch) for batch in users.split(512)]).numpy().astype(np.float32)
    summary = {"valid ndcg@10": result.metrics["valid"]["ndcg@10"], "test ndcg@10": result.metrics["test"]["ndcg@10"],
               "best_epoch": result.best_epoch, "train_seconds": round(time.perf_counter() - started, 1)}
    return scores, summary


def ndcg(prepared: Prepared, phase: str, scores: np.ndarray) -> float:
    """NDCG@10 of ``[U, P]`` scores on ``phase`` with the exclusions and candidates of the tables."""
    split = prepared.split
    positives, exclude = (split.valid, [split.train]) if phase == "valid" else (split.test, [split.train, split.valid])
    return evaluate_ranking(lambda users: torch.from_numpy(scores[users.numpy()]), positives, split.num_users,
                            split.num_products, exclude=exclude,
                            candidates=split.warm_mask & prepared.snapshot.active)["ndcg@10"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=datasets.DATASETS)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--seeds", default="0,1,2,3", help="comma-separated training seeds (at least two)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        ap.error("--seeds: at least two different seeds")
    config = TrainConfig.model_validate({"model": "kg_sasrec", "num_threads": args.threads})
    prepared = prepare(args.dataset, args.data_dir, args.work_dir, config)
    cache = args.work_dir / "seed_ensemble" / args.dataset
    cache.mkdir(parents=True, exist_ok=True)
    runs: dict[int, dict[str, Any]] = {}
    scores: dict[int, dict[str, np.ndarray]] = {}
    for seed in seeds:
        path = cache / f"seed{seed}.npz"
        if not path.exists():
            print(f"seed {seed}: training", file=sys.stderr, flush=True)
            trained, summary = seed_scores(prepared, config.model_copy(update={"seed": seed}))
            np.savez(path, **trained, summary=json.dumps(summary))
        with np.load(path) as saved:
            scores[seed] = {phase: saved[phase] for phase in PHASES}
            runs[seed] = json.loads(str(saved["summary"]))
    singles = {seed: {phase: ndcg(prepared, phase, scores[seed][phase]) for phase in PHASES} for seed in seeds}
    ensembles = []
    for size in range(2, len(seeds) + 1):
        for subset in itertools.combinations(seeds, size):
            figures = {phase: ndcg(prepared, phase, np.mean([scores[s][phase] for s in subset], axis=0))
                       for phase in PHASES}
            members = {phase: float(np.mean([singles[s][phase] for s in subset])) for phase in PHASES}
            ensembles.append({"seeds": list(subset), **figures, "members_mean": members})
    doc = {"dataset": args.dataset, "config": config.model_dump(), "runs": runs, "singles": singles,
           "ensembles": ensembles}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"seed_ensemble_{args.dataset}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    stem.with_suffix(".md").write_text(md)
    print(md)
    return 0


def markdown(doc: dict[str, Any]) -> str:
    rows = [f"| {seed} | {f['valid']:.4f} | {f['test']:.4f} | - | - |" for seed, f in doc["singles"].items()]
    rows += [f"| mean of {'+'.join(map(str, e['seeds']))} | {e['valid']:.4f} | {e['test']:.4f} | "
             f"{e['members_mean']['valid']:.4f} | {e['members_mean']['test']:.4f} |" for e in doc["ensembles"]]
    return (f"## Seed ensembles of kg_sasrec on {doc['dataset']} (NDCG@10)\n\n"
            "| seeds | valid | test | members' mean, valid | members' mean, test |\n|---|---:|---:|---:|---:|\n"
            + "\n".join(rows) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
