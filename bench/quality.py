"""Quality benchmark: the GNN against every baseline on one graph, same split, full ranking.

    python bench/quality.py --store /path/graph.lbug --dataset amazon-beauty [--epochs 30] [--config cfg.json]
    python bench/quality.py --data-dir ../shared/data/amazon-beauty --dataset amazon-beauty   # ingests first

Writes ``bench/results/quality_<dataset>.json`` (every metric, timings, peak memory, config, split) and
``quality_<dataset>.md`` (the tables), and prints the tables. ``--data-dir`` needs the ingestion pipeline
(``kg.ingest.pipeline.ingest`` and a reader for the dataset); ``--store`` reads any existing embedded graph.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gnn.config import TrainConfig  # noqa: E402
from gnn.data import snapshot_from_store  # noqa: E402
from gnn.pipeline import BASELINES, markdown_table, metrics_document, prepare_with_text, train_all  # noqa: E402
from kg.config import PROJECT_ROOT  # noqa: E402
from kg.queries import QueryLibrary  # noqa: E402
from kg.store.embedded import EmbeddedStore  # noqa: E402
from kg.text import TextEncoder  # noqa: E402


def _ingest(data_dir: Path, store_path: Path) -> None:
    from kg.ingest import pipeline
    from kg.ingest.readers import open_reader

    store = EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher"))
    store.init_schema()
    with store:
        pipeline.ingest(open_reader(data_dir), store, quarantine_path=store_path.with_suffix(".quarantine.jsonl"),
                        report_path=store_path.with_suffix(".ingest.json"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", type=Path, help="existing embedded graph (LadybugDB file)")
    src.add_argument("--data-dir", type=Path, help="dataset directory to ingest first (into --work-dir)")
    ap.add_argument("--dataset", required=True, help="name used in the result file names")
    ap.add_argument("--config", type=Path, help="TrainConfig JSON for the main model")
    ap.add_argument("--epochs", type=int, help="override epochs")
    ap.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated baseline kinds")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench", help="ingested store and text cache")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    if args.epochs is not None:
        cfg = cfg.model_copy(update={"epochs": args.epochs})
    timings: dict[str, float] = {}
    store_path = args.store
    if args.data_dir is not None:
        store_path = args.work_dir / f"{args.dataset}.lbug"
        t = time.perf_counter()
        _ingest(args.data_dir, store_path)
        timings["ingest_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher"), read_only=True) as store:
        snapshot = snapshot_from_store(store)
    timings["snapshot_s"] = time.perf_counter() - t
    print(f"snapshot {snapshot.snapshot_id}: {snapshot.num_users} users, {snapshot.num_products} products, "
          f"{snapshot.inter_user.size} interactions ({timings['snapshot_s']:.1f} s)", file=sys.stderr)
    encoder = TextEncoder(cache_dir=args.work_dir / "cache" / "text", num_threads=cfg.num_threads)
    t = time.perf_counter()
    prepared = prepare_with_text(snapshot, cfg, encoder, log=lambda m: print(m, file=sys.stderr))
    timings["text_and_split_s"] = time.perf_counter() - t
    text_stats = dict(encoder.stats)
    kinds = tuple(k for k in args.baselines.split(",") if k)
    main_result, others = train_all(prepared, cfg, baselines=kinds, progress=not args.no_progress,  # type: ignore[arg-type]
                                    log=lambda m: print(m, file=sys.stderr))
    doc: dict[str, Any] = metrics_document(main_result, others, prepared)
    best_base = max((r.metrics["test"]["ndcg@10"], k) for k, r in others.items()) if others else (0.0, "-")
    main_ndcg = main_result.metrics["test"]["ndcg@10"]
    summary = {
        "dataset": args.dataset, "config": cfg.model_dump(), "timings": timings, "text_encoding": text_stats,
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "threads": cfg.num_threads},
        "best_baseline_ndcg@10": {"model": best_base[1], "value": best_base[0]},
        "lift_over_best_baseline_ndcg@10": (main_ndcg / best_base[0] - 1) if best_base[0] else None,
        "results": doc,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"quality_{args.dataset}.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    md = (f"## {args.dataset}: test (leave-one-out, warm products, full ranking)\n\n{markdown_table(doc, 'test')}\n\n"
          f"## {args.dataset}: cold slice (products withheld from training, ranked among cold products)\n\n"
          f"{markdown_table(doc, 'cold')}\n\n"
          "| model | train s | best epoch | peak RSS MB |\n|---|---|---|---|\n"
          + "\n".join(f"| {k} | {v['train_seconds']:.0f} | {v['best_epoch']} | {v['peak_rss_mb']:.0f} |"
                      for k, v in [*doc["baselines"].items(), (doc["model"], doc)]) + "\n")
    (args.out / f"quality_{args.dataset}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
