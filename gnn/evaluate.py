"""Re-evaluate a bundle on the graph's current snapshot, beside the parameter-free baselines (``cartograph
evaluate``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gnn.bundle import Bundle, load_bundle
from gnn.evaluation import evaluate_embeddings, evaluate_phases, ranking_inputs
from gnn.models.registry import model_from_bundle
from gnn.pipeline import prepare_with_text, read_snapshot, text_encoder
from gnn.prepared import Prepared
from gnn.train import train_model
from kg.config import Settings
from kg.errors import ValidationError


def _load(path: Path) -> Bundle:
    try:
        return load_bundle(path)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ValidationError(f"cannot load the bundle: {e}") from e


def _bundle_metrics(bundle: Bundle, prepared: Prepared) -> dict[str, dict[str, float]]:
    """The bundle's model re-run per phase (it reads train for valid, train + valid for the test); the stored
    vectors are the served ones, computed after every known interaction, test included, so scoring the test
    with them would leak it. A bundle without a model falls back to its vectors, said in the metrics."""
    which = ("valid", "test", "cold")
    if bundle.model_meta is not None and (bundle.state_dict is not None or not bundle.config.trainable):
        model = model_from_bundle(bundle.config, bundle.model_meta, bundle.state_dict)
        return evaluate_phases(prepared, lambda phase: ranking_inputs(model, prepared, phase), which=which)
    metrics = evaluate_embeddings(prepared, torch.from_numpy(bundle.user_embeddings),
                                  torch.from_numpy(bundle.product_embeddings), which=which)
    return {k: {**v, "from_served_vectors": 1.0} for k, v in metrics.items()}


def evaluate_bundle(settings: Settings, path: Path, *, warn: Callable[[str], None] = print) -> dict[str, Any]:
    """The bundle's metrics on the current graph (valid, test, cold), the popularity and text-only baselines
    computed on the same split, and the baselines recorded at training; a metrics document as training writes."""
    loaded = _load(path)
    snapshot = read_snapshot(settings)
    if snapshot.ids != loaded.id_maps:
        raise ValidationError(f"the graph changed since bundle {loaded.version} was trained (snapshot "
                              f"{snapshot.snapshot_id} vs {loaded.snapshot_id}, different nodes); "
                              "run `cartograph train`")
    if snapshot.snapshot_id != loaded.snapshot_id:
        warn("warning: same nodes but the graph changed since training")
    cfg = loaded.config
    prepared = prepare_with_text(snapshot, cfg, text_encoder(settings, cfg))
    metrics = _bundle_metrics(loaded, prepared)
    doc: dict[str, Any] = {"model": f"{cfg.model} ({loaded.version})", "metrics": metrics, "baselines": {}}
    for kind in ("popularity", "text_only"):
        result = train_model(prepared, cfg.model_copy(update={"model": kind}), progress=False)
        doc["baselines"][kind] = {"metrics": result.metrics}
    for kind, entry in loaded.metrics.get("baselines", {}).items():
        if kind not in doc["baselines"]:  # the ones not recomputed here, as they were measured at training
            doc["baselines"][f"{kind} (at training)"] = entry
    return doc
