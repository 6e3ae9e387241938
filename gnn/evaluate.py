"""Re-evaluate a bundle on the graph's current snapshot, beside the parameter-free baselines (``cartograph
evaluate``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gnn.bundle import Bundle, load_bundle
from gnn.pipeline import prepare_with_text, read_snapshot, text_encoder
from gnn.train import evaluate_embeddings, train_model
from kg.config import Settings
from kg.errors import ValidationError


def _load(path: Path) -> Bundle:
    try:
        return load_bundle(path)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ValidationError(f"cannot load the bundle: {e}") from e


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
    metrics = evaluate_embeddings(prepared, torch.from_numpy(loaded.user_embeddings),
                                  torch.from_numpy(loaded.product_embeddings), which=("valid", "test", "cold"))
    doc: dict[str, Any] = {"model": f"{cfg.model} ({loaded.version})", "metrics": metrics, "baselines": {}}
    for kind in ("popularity", "text_only"):
        result = train_model(prepared, cfg.model_copy(update={"model": kind}), progress=False)
        doc["baselines"][kind] = {"metrics": result.metrics}
    for kind, entry in loaded.metrics.get("baselines", {}).items():
        if kind not in doc["baselines"]:  # the ones not recomputed here, as they were measured at training
            doc["baselines"][f"{kind} (at training)"] = entry
    return doc
