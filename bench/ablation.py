"""Ablations: train variants of one TrainConfig on one graph and split, print and append one JSON line each.

    python bench/ablation.py --store var/bench/amazon-beauty.lbug --config bench/configs/amazon-beauty.json \\
        'ui_text={"relations": ["interacts", "rev_interacts"]}' 'sage={"conv": "heteroconv"}'

Each variant is ``name=JSON`` (fields overriding the config). Results go to
``bench/results/ablation_<dataset>.jsonl`` (valid / test / cold metrics, epochs, seconds, peak RSS, learned
relation weights). Used to choose the encoder and its settings (docs/gnn.md); bench/quality.py makes the
table against the baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gnn.config import TrainConfig  # noqa: E402
from gnn.data import snapshot_from_store  # noqa: E402
from gnn.pipeline import prepare_with_text  # noqa: E402
from gnn.train import train_model  # noqa: E402
from kg.config import PROJECT_ROOT  # noqa: E402
from kg.queries import QueryLibrary  # noqa: E402
from kg.store.embedded import EmbeddedStore  # noqa: E402
from kg.text import TextEncoder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True, help="embedded graph (LadybugDB file)")
    ap.add_argument("--config", type=Path, help="base TrainConfig JSON")
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench", help="text embedding cache")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("variants", nargs="+", help="name=JSON overrides")
    args = ap.parse_args(argv)
    base = TrainConfig.load(args.config) if args.config else TrainConfig()
    with EmbeddedStore(args.store, QueryLibrary(PROJECT_ROOT / "cypher"), read_only=True) as store:
        snapshot = snapshot_from_store(store)
    encoder = TextEncoder(cache_dir=args.work_dir / "cache" / "text", num_threads=base.threads)
    prepared = prepare_with_text(snapshot, base, encoder)
    args.out.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        name, _, overrides = variant.partition("=")
        cfg = TrainConfig.model_validate({**base.model_dump(), **json.loads(overrides or "{}")})
        r = train_model(prepared, cfg, progress=True)
        weights = r.model.relation_weight_table() if hasattr(r.model, "relation_weight_table") else None
        row = {"dataset": args.dataset, "name": name, "overrides": json.loads(overrides or "{}"),
               "config": cfg.model_dump(),
               "metrics": r.metrics, "best_epoch": r.best_epoch, "epochs_run": len(r.history),
               "train_seconds": round(r.train_seconds, 1), "peak_rss_mb": round(r.peak_rss_mb),
               "valid_curve": [h.get("valid_ndcg@10") for h in r.history], "relation_weights": weights}
        with (args.out / f"ablation_{args.dataset}.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=float) + "\n")
        m = r.metrics
        print(f"{name}: valid ndcg@10 {m['valid']['ndcg@10']:.4f}  test ndcg@10 {m['test']['ndcg@10']:.4f}  "
              f"cold recall@20 {m.get('cold', {}).get('recall@20', 0.0):.4f}  best epoch {r.best_epoch}/"
              f"{len(r.history)}  {r.train_seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
