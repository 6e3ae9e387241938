"""Quality benchmark: the model ``cartograph train`` would serve, every candidate and baseline, on one dataset.

    python bench/quality.py --dataset amazon-beauty --data-dir ../shared/data [--variant standard]

One default :class:`~gnn.config.TrainConfig` for every dataset (only ``--threads`` and the variant change it):

- ``standard`` (the headline): the standard leave-one-out split, no product withheld, no co-purchase lists;
  each model reads train for validation and train + valid for the test; full ranking over all products;
- ``copurchase``: the same with the co-purchase lists as graph edges. On the public Amazon data they were
  crawled after the interactions they summarise: these figures know the future and are never the headline;
- ``cold``: 5% of the products withheld from training (chosen by a hash of their id); every interaction with
  one is ranked among all products (new-product quality; the served model against text-only).

The served model is chosen among the candidates on validation NDCG@10 (:func:`gnn.pipeline.select`); test
figures are computed for every model with the same code (:mod:`gnn.evaluation`). Where the dataset has
co-purchase lists, the parameter-free co-purchase lookup (``bench/copurchase_lookup.py``) is reported beside,
marked as knowing the future. Writes ``bench/results/quality_<dataset>_<variant>.{json,md}``, and each user's
figures behind every ratio in ``.per_user.npz`` (``bench/pool_slices.py`` pools several cold slices).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))  # significance.py (bench/peers.py takes the name "peers")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
from copurchase_lookup import lookup_score_fn  # noqa: E402
from report import interval_text, write_report  # noqa: E402
from significance import bootstrap_ratio  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.data import split_snapshot  # noqa: E402
from gnn.evaluation import evaluate_phases, ranking_inputs  # noqa: E402
from gnn.metrics import evaluate_ranking, per_user_metric, top_k_rankings  # noqa: E402
from gnn.models.kg_sasrec import KGSASRec  # noqa: E402
from gnn.pipeline import markdown_table, metrics_document, text_features, train_all  # noqa: E402
from gnn.prepared import Prepared, prepare_split  # noqa: E402
from gnn.train import TrainResult, peak_rss_mb  # noqa: E402
from kg.text import TextEncoder  # noqa: E402

VARIANTS = {"standard": {}, "copurchase": {"copurchase": True}, "cold": {"cold_fraction": 0.05}}
#: Trained beside the candidates of the default config, with the same split and metric code.
BASELINES = ("bpr_mf", "text_only", "gnn_notext")


def lookup_metrics(prepared: Prepared) -> dict[str, float]:
    """Test metrics of the co-purchase lookup, with the test exclusions and candidates every model gets."""
    snapshot, split = prepared.snapshot, prepared.split
    return evaluate_ranking(lookup_score_fn(snapshot, split, "test"), split.test, split.num_users,
                            split.num_products, exclude=[split.train, split.valid],
                            candidates=split.warm_mask & snapshot.active)


#: The figure each ratio is taken on: test NDCG@10 (the headline); Recall@20 on the cold slice (the target's).
RATIO_METRIC = {"test": "ndcg@10", "cold": "recall@20"}


def per_user_figures(result: TrainResult, prepared: Prepared, which: str = "test") -> np.ndarray:
    """Each user's :data:`RATIO_METRIC` on ``which`` ("test" or "cold") under ``result``'s test-phase vectors,
    with the masking of the figures in the table (:func:`gnn.evaluation.evaluate_phases`)."""
    split, metric = prepared.split, RATIO_METRIC[which]
    positives = split.test if which == "test" else split.cold
    candidates = prepared.snapshot.active & (split.warm_mask if which == "test" else True)
    # Top 20, as evaluate_ranking takes (ties among equal scores come out of topk in an order that depends on k).
    rankings = top_k_rankings(result.test_score_fn(), np.unique(positives[0]),
                              split.num_users, split.num_products, 20, exclude=[split.train, split.valid],
                              candidates=candidates)
    values = per_user_metric(rankings, positives, metric)[1]
    expected = result.metrics[which][metric]
    if abs(values.mean() - expected) > 1e-4:  # the same vectors must give the figure the table shows
        raise RuntimeError(f"{result.config.model}: per-user {which} {metric} {values.mean():.6f} != {expected:.6f}")
    return values


def ratio_intervals(main: TrainResult, others: dict[str, TrainResult], prepared: Prepared,
                    per_user: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The served model's figure over every other model's of the run (test NDCG@10; with a cold slice, its
    Recall@20 too), each with a 95% paired bootstrap interval over users (``bench/peers/significance.py``: 2,000
    resamples). Keys: ``"<other>"`` for test, ``"<other> (cold)"`` for the cold slice. ``per_user``, when given,
    receives every per-user array under ``"<test|cold>/<model>"`` (``bench/pool_slices.py`` pools runs)."""
    out: dict[str, Any] = {}
    for which in RATIO_METRIC:
        if which not in main.metrics:
            continue
        ours = per_user_figures(main, prepared, which)
        if per_user is not None:
            per_user[f"{which}/{main.config.model}"] = ours
        for name, result in others.items():
            if which not in result.metrics:
                continue
            theirs = per_user_figures(result, prepared, which)
            if per_user is not None:
                per_user[f"{which}/{name}"] = theirs
            key, metric = (name if which == "test" else f"{name} (cold)"), f"{which} {RATIO_METRIC[which]}"
            # A model that scores 0 (a graph model on products it never saw) has no ratio to be taken.
            out[key] = ({"metric": metric, **bootstrap_ratio(ours, theirs)} if theirs.mean() > 0
                        else {"metric": metric, "ratio": None, "note": f"{name} scores 0"})
    return out


def calibration_ablations(model: Any, prepared: Prepared) -> dict[str, Any]:
    """The served kg_sasrec's test (and cold) figures with its after-training calibration undone
    (:mod:`gnn.content`): the same trained weights, so the rows isolate what the calibration adds."""
    if not isinstance(model, KGSASRec):
        return {}
    kept = {name: float(getattr(model, name)) for name in KGSASRec.CALIBRATION_DEFAULTS}
    variants = {"kg_sasrec without the text channel": {"content_weight": 0.0},
                "kg_sasrec without the text channel or the cold scale": {"content_weight": 0.0, "cold_scale": 1.0},
                "kg_sasrec without the co-interaction channel": {"cointeraction_weight": 0.0},
                "kg_sasrec without the attribute channel": {"attribute_weight": 0.0},
                "kg_sasrec without the transition channel": {"transition_weight": 0.0},
                "kg_sasrec without the transition lookup": {"lookup_weight": 0.0},
                "kg_sasrec without the transition channel or lookup": {"transition_weight": 0.0,
                                                                       "lookup_weight": 0.0},
                "kg_sasrec without the co-interaction, attribute or transition channels or the lookup": {
                    "cointeraction_weight": 0.0, "attribute_weight": 0.0, "transition_weight": 0.0,
                    "lookup_weight": 0.0},
                "kg_sasrec without the text, co-interaction, attribute or transition channels or the lookup": {
                    "content_weight": 0.0, "cointeraction_weight": 0.0, "attribute_weight": 0.0,
                    "transition_weight": 0.0, "lookup_weight": 0.0},
                "kg_sasrec without the new products' text gain": {"cold_text_gain": 1.0},
                "kg_sasrec without the new products' lookup columns": {"cold_lookup_gain": 0.0},
                "kg_sasrec without the new products' own text channel": {"cold_text_weight": 0.0},
                # Fixed gains, whatever validation chose: what pushing new products up does to the cold slice.
                **{f"kg_sasrec with new products' text gain {g:g}": {"cold_text_gain": g} for g in (1.5, 2, 3, 4)}}
    new_only = {"cold_text_gain", "cold_lookup_gain", "cold_text_weight"}  # these act on new products only
    if not prepared.split.cold.shape[1]:
        variants = {k: v for k, v in variants.items() if not new_only & v.keys()}
    if float(model.content_weight) <= 0:  # the gains multiply the text channel
        variants = {k: v for k, v in variants.items() if not {"cold_text_gain", "cold_lookup_gain"} & v.keys()}
    if not model.text_for_new_products_only:
        variants = {k: v for k, v in variants.items() if "cold_text_weight" not in v}
    rows: dict[str, Any] = {}
    try:
        for name, undone in variants.items():
            for buffer, value in {**kept, **undone}.items():  # each row changes only what it names
                getattr(model, buffer).fill_(value)
            rows[name] = {"metrics": evaluate_phases(prepared, lambda phase: ranking_inputs(model, prepared, phase))}
    finally:
        for buffer, value in kept.items():
            getattr(model, buffer).fill_(value)
    return rows


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["seq_lr=1e-3", "seq_temperature=null"]`` -> ``{"seq_lr": 0.001, "seq_temperature": None}`` (values read
    as JSON where they parse, else as strings; TrainConfig validates them)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in TrainConfig.model_fields:
            raise SystemExit(f"--set {pair!r}: expected FIELD=VALUE with a TrainConfig field")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def prepare(dataset: str, data_dir: Path, work_dir: Path, cfg: TrainConfig) -> Prepared:
    """The dataset's snapshot, text features (where it has text), split (its own, else the config's) and
    message-passing graph: what every model of a run is trained and scored on."""
    snapshot, fixed_split = datasets.load(dataset, data_dir, work_dir)
    has_text = any(t.strip() for t in snapshot.titles)
    encoder = TextEncoder(cache_dir=work_dir / "cache" / "text", num_threads=cfg.threads)
    features = text_features(snapshot, encoder, _log) if has_text else None
    split = fixed_split if fixed_split is not None else split_snapshot(
        snapshot, cold_fraction=cfg.cold_fraction, seed=cfg.seed, min_interactions=cfg.min_interactions)
    return prepare_split(snapshot, split, features, cfg)


def run(dataset: str, variant: str, data_dir: Path, work_dir: Path, threads: int, epochs: int | None,
        baselines: tuple[str, ...], candidates: list[str] | None = None,
        overrides: dict[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    cfg = TrainConfig.model_validate({**VARIANTS[variant], "num_threads": threads,
                                      **({"epochs": epochs} if epochs else {}),
                                      **({"candidates": candidates} if candidates else {}),
                                      **(overrides or {})})
    prepared = prepare(dataset, data_dir, work_dir, cfg)
    prep_s = time.perf_counter() - started
    main, others, selection = train_all(prepared, cfg, baselines=baselines,  # type: ignore[arg-type]
                                        progress=progress, log=_log)
    doc = metrics_document(main, others, prepared, selection)
    per_user: dict[str, np.ndarray] = {}
    doc["ratios"] = ratio_intervals(main, others, prepared, per_user)
    doc["baselines"].update(calibration_ablations(main.model, prepared))
    if dataset in datasets.WITH_COPURCHASE and variant != "cold":
        doc["baselines"]["copurchase_lookup (knows the future)"] = {"metrics": {"test": lookup_metrics(prepared)}}
    return {"dataset": dataset, "variant": variant, "config": cfg.model_dump(), "overrides": overrides or {},
            "prepare_seconds": round(prep_s, 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
            "machine": {"python": platform.python_version(), "threads": threads}, "results": doc,
            "histories": {r.config.model: r.history for r in (main, *others.values())},
            "per_user": per_user}


def markdown(summary: dict[str, Any]) -> str:
    doc, name = summary["results"], f"{summary['dataset']} ({summary['variant']})"
    if summary.get("overrides"):
        name += " with " + ", ".join(f"{k}={v}" for k, v in summary["overrides"].items())
    split = "cold" if summary["variant"] == "cold" else "test"
    what = ("cold slice: interactions with withheld products, ranked among all products" if split == "cold"
            else "test: leave-one-out, full ranking, valid interaction read as history")
    selection = doc.get("selection", {})
    rows = "\n".join(f"| {k} | {v['train_seconds']:.0f} | {v['best_epoch']} | {v.get('stopped_by', '-')} | "
                     f"{v['peak_rss_mb']:.0f} |"
                     for k, v in [*doc["baselines"].items(), (doc["model"], doc)] if "train_seconds" in v)
    ratios = "\n".join(f"| {doc['model']} / {k.removesuffix(' (cold)')} | {v.get('metric', 'test ndcg@10')} | "
                       + (f"{v['ratio']:.3f} | {interval_text(v, 3, ' - ')} |" if v["ratio"] is not None
                          else f"- | - ({v['note']}) |")
                       for k, v in doc.get("ratios", {}).items())
    if ratios:
        ratios = ("\n| ratio | of | value | 95% interval (paired bootstrap over users) |\n|---|---|---|---|\n"
                  f"{ratios}\n")
    return (f"## {name}: {what}\n\nServed: **{doc['model']}** ({selection.get('reason', 'configured')})\n\n"
            f"{markdown_table(doc, split)}\n\n| model | train s | best epoch | stopped by | peak RSS MB |\n"
            f"|---|---|---|---|---|\n"
            f"{rows}\n\nWall time, snapshot to report: {summary['wall_seconds']:.0f} s "
            f"({summary['machine']['threads']} threads).\n{ratios}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=datasets.DATASETS)
    ap.add_argument("--data-dir", type=Path, required=True, help="folder holding the dataset folders")
    ap.add_argument("--variant", choices=tuple(VARIANTS), default="standard")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, help="cap on epochs (smoke runs only: the figures need convergence)")
    ap.add_argument("--baselines", default=",".join(BASELINES))
    ap.add_argument("--candidates", help="comma-separated: the candidates 'auto' chooses among (default: the "
                    "config's); a subset only to re-run some of them, said in the output")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a TrainConfig field (experiments: the figures of record use the defaults)")
    ap.add_argument("--tag", default="", help="suffix of the result files (e.g. the experiment's name)")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--quiet", action="store_true", help="no training progress (by default each model's epochs "
                    "are shown on stderr: a line every 15 s in a log, with its validation NDCG@10 and time left)")
    args = ap.parse_args(argv)
    candidates = [k for k in (args.candidates or "").split(",") if k] or None
    summary = run(args.dataset, args.variant, args.data_dir, args.work_dir, args.threads, args.epochs,
                  tuple(k for k in args.baselines.split(",") if k), candidates, parse_overrides(args.set),
                  progress=not args.quiet)
    stem = f"quality_{args.dataset}_{args.variant}" + (f"_{args.tag}" if args.tag else "")
    args.out.mkdir(parents=True, exist_ok=True)
    # Per-user figures beside, compressed (what bench/pool_slices.py pools over runs): not in the JSON.
    np.savez_compressed(args.out / f"{stem}.per_user.npz", **summary.pop("per_user"))
    write_report(args.out, stem, summary, markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
