"""Store -> snapshot -> text features -> train the model and the baselines -> bundle.

:func:`train_from_store` is the one workflow that ``cartograph train``, the quick start and bench use; the
rebuild's model step (:mod:`gnn.rebuild`) shares its first half, :func:`prepare_from_store`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gnn.baselines import EASE
from gnn.bundle import write_bundle
from gnn.config import ModelKind, TrainConfig
from gnn.data import GraphSnapshot, snapshot_from_store, split_snapshot
from gnn.inductive import INDUCTIVE_MODELS
from gnn.prepared import Prepared, prepare_split
from gnn.recent import choose_recent_weight
from gnn.train import TrainResult, model_meta, train_model
from gnn.tune import tune
from kg.config import Settings
from kg.errors import ValidationError
from kg.progress import step
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
    if snapshot.num_nodes("entity") and any(snapshot.names["entity"]):  # bare ids (Freebase m.*) say nothing
        features["entity"] = encoder.encode(snapshot.entity_texts())
    return features


def baseline_config(config: TrainConfig, kind: ModelKind) -> TrainConfig:
    """The config a baseline runs with: the model's, with the model kind changed."""
    return config.model_copy(update={"model": kind})


@dataclass
class Selection:
    """Why the served model is the one it is: every candidate's validation NDCG@10, the choice and the reason."""

    chosen: str
    valid_ndcg10: dict[str, float]
    reason: str
    tuning: dict[str, Any] | None = None  # ``--tune``: every trial of the chosen kind (gnn.tune)
    #: Per candidate: why its training ended (``TrainResult.stopped_by``, with the epoch).
    stopped_by: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"chosen": self.chosen, "valid_ndcg@10": self.valid_ndcg10, "reason": self.reason,
               "stopped_by": self.stopped_by}
        return {**out, "tuning": self.tuning} if self.tuning is not None else out


def select(results: dict[str, TrainResult]) -> Selection:
    """The result with the highest validation NDCG@10 (the first listed on a tie); never a test figure."""
    scores = {kind: round(r.metrics["valid"]["ndcg@10"], 6) for kind, r in results.items()}
    ranked = sorted(scores, key=lambda kind: -scores[kind])  # stable: ties keep the candidates' order
    chosen = ranked[0]
    reason = f"highest validation NDCG@10 of {len(scores)} candidates ({scores[chosen]:.4f})"
    if len(ranked) > 1:
        reason += f"; next {ranked[1]} ({scores[ranked[1]]:.4f})"
    stopped = {kind: f"{r.stopped_by} (epoch {len(r.history)})" if r.history else r.stopped_by
               for kind, r in results.items()}
    pruned = [kind for kind, r in results.items() if r.stopped_by == "pruned"]
    if pruned:
        reason += ("; stopped early, below the leader's bar: "
                   + ", ".join(f"{kind} at epoch {len(results[kind].history)}" for kind in pruned))
    return Selection(chosen, scores, reason, stopped_by=stopped)


def _log_result(result: TrainResult, log: Log | None) -> None:
    if log:
        log(f"{result.config.model}: valid ndcg@10 {result.metrics['valid']['ndcg@10']:.4f}, test ndcg@10 "
            f"{result.metrics['test']['ndcg@10']:.4f} ({result.train_seconds:.0f} s, best epoch {result.best_epoch})")


def _usable(kind: str, prepared: Prepared, config: TrainConfig) -> bool:
    """Whether ``kind`` can be trained on ``prepared``: the text models need product text, EASE a catalog small
    enough for its dense solve."""
    if kind == "ease":
        return prepared.snapshot.num_products <= config.ease_max_products
    return kind not in ("text_only", "gnn") or "product" in prepared.text_dims


def _train_quietly(prepared: Prepared, config: TrainConfig) -> TrainResult:
    return train_model(prepared, config, progress=False)


def _train_in_processes(prepared: Prepared, configs: list[TrainConfig], workers: int, progress: bool,
                        log: Log | None) -> dict[str, TrainResult]:
    """Each config trained in its own process, ``workers`` at a time, in the given order.

    The candidates are independent and each trains on one thread, so on a 2-core machine two at once halve the
    wall time. "spawn", not fork: a forked child of a process that has run OpenMP regions can hang.
    """
    results: dict[str, TrainResult] = {}
    context = multiprocessing.get_context("spawn")
    with step(f"training {len(configs)} models, {workers} at a time", len(configs),
              enabled=None if progress else False) as bar, \
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {c.model: pool.submit(_train_quietly, prepared, c) for c in configs}
        for kind, future in futures.items():
            results[kind] = future.result()
            _log_result(results[kind], log)
            bar.advance()
    return results


def train_models(prepared: Prepared, configs: list[TrainConfig], *, workers: int = 1, progress: bool = True,
                 log: Log | None = None, protected: set[str] | None = None) -> dict[str, TrainResult]:
    """Train each config on the same prepared split: one after the other with ``workers=1``, else in that many
    processes (per-model progress is then a line per finished model).

    ``protected`` (one after the other only; None: no pruning): a trainable model after the first is stopped at
    its ``prune_after`` epoch when its validation NDCG@10 is below ``prune_ratio`` x the best figure so far,
    unless its kind is in ``protected`` (the baselines asked for, whose figures are reported)."""
    if workers > 1 and len(configs) > 1:
        return _train_in_processes(prepared, configs, min(workers, len(configs)), progress, log)
    results: dict[str, TrainResult] = {}
    for config in configs:
        leader = max((r.metrics["valid"]["ndcg@10"] for r in results.values()), default=None)
        bar = None if protected is None or leader is None or config.model in protected \
            else config.prune_ratio * leader
        result = results[config.model] = train_model(prepared, config, progress=progress, stop_below=bar)
        _log_result(result, log)
        if log and bar is not None and result.stopped_by == "pruned":
            log(f"{config.model}: stopped at epoch {len(result.history)}, below {config.prune_ratio} x the best "
                f"candidate so far ({bar:.4f}): it would not be served")
    return results


def train_all(prepared: Prepared, config: TrainConfig, *, baselines: Sequence[ModelKind] = BASELINES,
              progress: bool = True, log: Log | None = None
              ) -> tuple[TrainResult, dict[str, TrainResult], Selection | None]:
    """Train ``config.model`` (for ``auto``: every candidate, keeping the best on validation) and each baseline
    on the same split (``config.train_workers`` at a time). Returns (main result, the others by kind, the
    selection or None)."""
    kinds: list[str] = list(config.candidates) if config.model == "auto" else [config.model]
    kinds += [k for k in baselines if k not in kinds]
    configs = [config.model_copy(update={"model": k}) for k in kinds if _usable(k, prepared, config)]
    prune = config.model == "auto" and config.prune_ratio > 0
    results = train_models(prepared, configs, workers=config.train_workers, progress=progress, log=log,
                           protected=set(baselines) if prune else None)
    if config.model != "auto":
        return results.pop(config.model), results, None
    selection = select({k: r for k, r in results.items() if k in config.candidates})
    if log:
        log(f"chosen: {selection.chosen} ({selection.reason})")
    return results.pop(selection.chosen), results, selection


def metrics_document(main: TrainResult, baselines: dict[str, TrainResult], prepared: Prepared,
                     selection: Selection | None = None) -> dict[str, Any]:
    def entry(r: TrainResult) -> dict[str, Any]:
        return {"metrics": r.metrics, "best_epoch": r.best_epoch, "train_seconds": round(r.train_seconds, 2),
                "peak_rss_mb": round(r.peak_rss_mb, 1), "epochs_run": len(r.history), "stopped_by": r.stopped_by}

    return {"model": main.config.model, **entry(main), "split": prepared.split.summary(),
            "snapshot_id": prepared.snapshot.snapshot_id,
            "baselines": {k: entry(r) for k, r in baselines.items()},
            **({"selection": selection.to_dict()} if selection is not None else {}),
            **({"recent_blend": main.recent_blend.to_dict()} if main.recent_blend is not None else {}),
            **({"calibration": main.model.calibration} if getattr(main.model, "calibration", None) else {})}


def save_result(artifacts_dir: Path, prepared: Prepared, main: TrainResult,
                baselines: dict[str, TrainResult], *, set_current: bool = True,
                selection: Selection | None = None) -> Path:
    """Write the main model's bundle (with the baselines' metrics beside its own) and, unless
    ``set_current=False`` (a candidate an evaluation gate publishes later), make it current. The weight of recent
    events against the long history is chosen on validation here, for the served model only (:mod:`gnn.recent`)."""
    if main.recent_blend is None:
        main.recent_blend = choose_recent_weight(main.model, prepared)
    is_gnn = main.config.model in INDUCTIVE_MODELS  # the graph goes along: new products are embedded on it
    user_embeddings, product_embeddings = main.serving_embeddings(prepared)
    state = main.model.serving_state(prepared.graph_for("serve")) if isinstance(main.model, EASE) else None
    return write_bundle(
        artifacts_dir, config=main.config, snapshot_id=prepared.snapshot.snapshot_id,
        id_maps={t: prepared.snapshot.ids[t] for t in prepared.snapshot.ids},
        user_embeddings=user_embeddings, product_embeddings=product_embeddings,
        metrics=metrics_document(main, baselines, prepared, selection), history=main.history, model=main.model,
        model_state=state,
        model_meta=model_meta(prepared), graph=prepared.graph_for("serve") if is_gnn else None,
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
    return TextEncoder(model_dir, cache_dir=settings.home / "cache" / "text", num_threads=config.threads)


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
    selection: Selection | None = None

    def metrics_document(self) -> dict[str, Any]:
        return metrics_document(self.main, self.baselines, self.prepared, self.selection)


def tune_chosen(prepared: Prepared, main: TrainResult, selection: Selection | None, trials: int, *,
                progress: bool = False, log: Log | None = None) -> tuple[TrainResult, Selection]:
    """Search the chosen model's hyper-parameters on validation (:func:`gnn.tune.tune`); keep the best trial."""
    tuned = tune(prepared, main.config, trials, progress=progress, log=log)
    score = tuned.result.metrics["valid"]["ndcg@10"]
    if selection is None:
        selection = Selection(main.config.model, {main.config.model: round(score, 6)}, "the configured model")
    selection.tuning = tuned.to_dict()
    selection.reason += f"; tuned over {len(tuned.trials)} trials on validation (best {score:.4f})"
    return tuned.result, selection


def train_from_store(settings: Settings, config: TrainConfig, *, baselines: Sequence[ModelKind] = (),
                     store: GraphStore | None = None, text_model: Path | None = None, progress: bool = True,
                     log: Log | None = None, set_current: bool = True, tune_trials: int = 0) -> TrainRun:
    """The whole training workflow: snapshot -> text -> split -> train (for ``auto``: every candidate, the best
    on validation kept; with ``tune_trials``: that one's hyper-parameters searched) and ``baselines`` -> bundle."""
    prepared = prepare_from_store(settings, config, store=store, encoder=text_encoder(settings, config, text_model),
                                  log=log)
    if log:
        log(f"split: {prepared.split.summary()}")
    main, others, selection = train_all(prepared, config, baselines=baselines, progress=progress, log=log)
    if tune_trials > 0:
        main, selection = tune_chosen(prepared, main, selection, tune_trials, log=log)
    path = save_result(settings.artifacts_dir, prepared, main, others, set_current=set_current, selection=selection)
    return TrainRun(path, prepared, main, others, selection)


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
