"""Store -> snapshot -> text features -> train the model and the baselines -> bundle.

:func:`train_from_store` is the one workflow that ``cartograph train``, the quick start and bench use; the
rebuild's model step (:mod:`gnn.rebuild`) shares its first half, :func:`prepare_from_store`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gnn.bundle import write_bundle
from gnn.config import ModelKind, TrainConfig
from gnn.data import GraphSnapshot, snapshot_from_store, split_snapshot
from gnn.train import Prepared, TrainResult, model_meta, prepare_split, train_model
from kg.config import Settings
from kg.errors import ValidationError
from kg.store import GraphStore, open_store
from kg.text import TextEncoder

BASELINES: tuple[ModelKind, ...] = ("popularity", "bpr_mf", "lightgcn", "text_only", "gnn_notext")
Log = Callable[[str], None]


def text_features(snapshot: GraphSnapshot, encoder: TextEncoder, log: Log | None = None) -> dict[str, np.ndarray]:
    """Product (and entity) text embeddings, through the encoder's cache."""
    features = {"product": encoder.encode(snapshot.product_texts())}
    if log:
        s = encoder.stats
        log(f"product texts: {int(s['requested'])} ({int(s['cache_hits'])} cached, {int(s['encoded'])} encoded"
            + (f" at {s['texts_per_s']:.0f} texts/s" if s["encoded"] else "") + ")")
    if snapshot.num_nodes("entity"):
        features["entity"] = encoder.encode(snapshot.entity_texts())
    return features


def baseline_config(config: TrainConfig, kind: ModelKind) -> TrainConfig:
    """The config a baseline runs with: the model's, with the model kind changed."""
    return config.model_copy(update={"model": kind})


def train_all(prepared: Prepared, config: TrainConfig, *, baselines: Sequence[ModelKind] = BASELINES,
              progress: bool = True, log: Log | None = None) -> tuple[TrainResult, dict[str, TrainResult]]:
    """Train ``config.model`` and each baseline on the same split (one after the other, never at once)."""
    results: dict[str, TrainResult] = {}
    for kind in baselines:
        if kind == config.model:
            continue
        if kind in ("text_only", "gnn") and "product" not in prepared.text_dims:
            continue
        results[kind] = train_model(prepared, baseline_config(config, kind), progress=progress)
        if log:
            log(f"{kind}: test ndcg@10 {results[kind].metrics['test']['ndcg@10']:.4f} "
                f"({results[kind].train_seconds:.0f} s)")
    main = train_model(prepared, config, progress=progress)
    if log:
        log(f"{config.model}: test ndcg@10 {main.metrics['test']['ndcg@10']:.4f} ({main.train_seconds:.0f} s)")
    return main, results


def metrics_document(main: TrainResult, baselines: dict[str, TrainResult], prepared: Prepared) -> dict[str, Any]:
    def entry(r: TrainResult) -> dict[str, Any]:
        return {"metrics": r.metrics, "best_epoch": r.best_epoch, "train_seconds": round(r.train_seconds, 2),
                "peak_rss_mb": round(r.peak_rss_mb, 1), "epochs_run": len(r.history)}

    return {"model": main.config.model, **entry(main), "split": prepared.split.summary(),
            "snapshot_id": prepared.snapshot.snapshot_id,
            "baselines": {k: entry(r) for k, r in baselines.items()}}


def save_result(artifacts_dir: Path, prepared: Prepared, main: TrainResult,
                baselines: dict[str, TrainResult], *, set_current: bool = True) -> Path:
    """Write the main model's bundle (with the baselines' metrics beside its own) and, unless
    ``set_current=False`` (a candidate an evaluation gate publishes later), make it current."""
    is_gnn = main.config.model in ("gnn", "gnn_notext")
    return write_bundle(
        artifacts_dir, config=main.config, snapshot_id=prepared.snapshot.snapshot_id,
        id_maps={t: prepared.snapshot.ids[t] for t in prepared.snapshot.ids},
        user_embeddings=main.user_emb, product_embeddings=main.product_emb,
        metrics=metrics_document(main, baselines, prepared), history=main.history, model=main.model,
        model_meta=model_meta(prepared), graph=prepared.data if is_gnn else None,
        extra={"split": prepared.split.summary()}, set_current=set_current,
    )


def prepare_with_text(snapshot: GraphSnapshot, config: TrainConfig, encoder: TextEncoder | None,
                      log: Log | None = None) -> Prepared:
    features = text_features(snapshot, encoder, log) if encoder is not None else None
    split = split_snapshot(snapshot, cold_fraction=config.cold_fraction, seed=config.seed,
                           min_interactions=config.min_interactions)
    return prepare_split(snapshot, split, features, config)


def read_snapshot(settings: Settings, store: GraphStore | None = None) -> GraphSnapshot:
    """A snapshot of the configured graph (or of ``store``, e.g. one a running API holds open)."""
    if store is not None:
        return snapshot_from_store(store, progress=None)
    with open_store(settings, read_only=True) as own:
        return snapshot_from_store(own, progress=None)


def text_encoder(settings: Settings, config: TrainConfig, model_dir: Path | None = None) -> TextEncoder:
    """The text encoder training uses: ``model_dir`` (default MiniLM), cached under ``<home>/cache/text``."""
    return TextEncoder(model_dir, cache_dir=settings.home / "cache" / "text", num_threads=config.num_threads)


def prepare_from_store(settings: Settings, config: TrainConfig, *, store: GraphStore | None = None,
                       encoder: TextEncoder | None = None, log: Log | None = None) -> Prepared:
    """Snapshot, check there is something to learn from, embed the text, split and build the graph."""
    snapshot = read_snapshot(settings, store)
    if snapshot.num_users == 0 or snapshot.inter_user.size == 0:
        raise ValidationError("the graph has no interactions to train on (run `cartograph ingest`)")
    if log:
        log(f"snapshot {snapshot.snapshot_id}: {snapshot.num_users} users, {snapshot.num_products} products, "
            f"{snapshot.inter_user.size} interactions")
    return prepare_with_text(snapshot, config, encoder or text_encoder(settings, config), log=log)


@dataclass
class TrainRun:
    """What :func:`train_from_store` produced: the bundle, the model's result and the baselines'."""

    bundle: Path
    prepared: Prepared
    main: TrainResult
    baselines: dict[str, TrainResult] = field(default_factory=dict)

    def metrics_document(self) -> dict[str, Any]:
        return metrics_document(self.main, self.baselines, self.prepared)


def train_from_store(settings: Settings, config: TrainConfig, *, baselines: Sequence[ModelKind] = (),
                     store: GraphStore | None = None, text_model: Path | None = None, progress: bool = True,
                     log: Log | None = None, set_current: bool = True) -> TrainRun:
    """The whole training workflow: snapshot -> text -> split -> train (and ``baselines``) -> bundle."""
    prepared = prepare_from_store(settings, config, store=store, encoder=text_encoder(settings, config, text_model),
                                  log=log)
    if log:
        log(f"split: {prepared.split.summary()}")
    main, others = train_all(prepared, config, baselines=baselines, progress=progress, log=log)
    path = save_result(settings.artifacts_dir, prepared, main, others, set_current=set_current)
    return TrainRun(path, prepared, main, others)


METRIC_COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@10", "mrr", "coverage@10")


def metrics_rows(metrics_doc: dict[str, Any], split: str = "test") -> list[tuple[str, dict[str, float]]]:
    """(model, metrics of ``split``) rows: the baselines, then the main model."""
    rows = [(k, v["metrics"].get(split, {})) for k, v in metrics_doc.get("baselines", {}).items()]
    rows.append((str(metrics_doc["model"]), metrics_doc["metrics"].get(split, {})))
    return rows


def markdown_table(metrics_doc: dict[str, Any], split: str = "test") -> str:
    header = "| model | " + " | ".join(METRIC_COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(METRIC_COLUMNS) + 1)]
    for name, m in metrics_rows(metrics_doc, split):
        lines.append(f"| {name} | " + " | ".join(f"{m.get(c, float('nan')):.4f}" for c in METRIC_COLUMNS) + " |")
    return "\n".join(lines)
