"""The model steps of a rebuild: train (warm-start or full), gate, publish.

``model`` snapshots the updated graph and trains a candidate on it:

- ``--full`` (or no current bundle, or a current model without trainable weights): from scratch, with the
  current bundle's config (or the default one);
- otherwise a warm start: the current weights carried into a model for the new graph
  (:func:`gnn.warm_start.warm_start`) and fine-tuned for a few epochs;
- ``--no-train``: no gradient step at all: the current weights run over the new graph, which gives new
  and changed products their inductive embeddings (text projection + graph) at once.

Text embeddings go through the on-disk cache keyed by content hash, so only new and changed texts are
encoded (the step reports the count). The candidate is written as an unpublished bundle.

``gate`` measures the *current* weights on the same new graph and split (zero epochs, warm-started: exactly
what is serving after the graph update) and compares with the candidate (:func:`gnn.gate.evaluate_gate`).
``publish`` makes the candidate current (atomic pointer swap); a running API notices the pointer move within
``CARTOGRAPH_BUNDLE_WATCH_S`` seconds and swaps the new index in (``POST /admin/reload`` does it at once).
"""

from __future__ import annotations

from typing import Any

from kg.errors import RebuildError
from kg.rebuild.job import JobContext, fault_point


def _prepare(ctx: JobContext, config: Any = None) -> tuple[Any, Any, Any]:
    """(prepared data, current bundle or None, config) for the updated graph. The config is the current bundle's
    (its weights need its architecture), except for a full build (``--full``, or no current bundle): then
    ``config`` (a TrainConfig), else the default one."""
    from gnn.bundle import load_bundle
    from gnn.config import TrainConfig
    from gnn.data import snapshot_from_store
    from gnn.pipeline import prepare_with_text
    from gnn.text import TextEncoder
    from kg.store import open_store

    settings = ctx.settings
    assert settings.artifacts_dir is not None
    try:
        current = load_bundle(settings.artifacts_dir)
    except FileNotFoundError:
        current = None
    config = config or TrainConfig()
    if current is not None and not ctx.inputs.full:
        config = current.config  # its weights need its architecture
    with open_store(settings, read_only=True) as store:
        snapshot = snapshot_from_store(store)
    encoder = TextEncoder(cache_dir=settings.home / "cache" / "text", num_threads=config.num_threads)
    encoder.encode(snapshot.product_texts())  # fills the cache; its counts show what the change cost
    counted = ("requested", "cache_hits", "encoded")
    text = {"product": {k: int(encoder.stats[k]) for k in counted}}
    prepared = prepare_with_text(snapshot, config, encoder, log=ctx.log)  # products now all cache hits
    if snapshot.num_nodes("entity"):
        text["entity"] = {k: int(encoder.stats[k]) for k in counted}
    ctx.record.step("model").details["text"] = text
    return prepared, current, config


def _warm(current: Any, prepared: Any) -> Any:
    from gnn.warm_start import warm_start

    def init(model: Any) -> None:
        warm_start(model, current.state_dict, current.id_maps, prepared.snapshot.ids)

    return init


class ModelStep:
    """Train the candidate, measure the current weights on the same graph and split, write the candidate as an
    unpublished bundle."""

    name = "model"

    def __init__(self, *, finetune_epochs: int = 5, config: Any = None) -> None:
        self.finetune_epochs = finetune_epochs
        self.config = config  # a TrainConfig for full training (default: the current bundle's, or the default)

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from gnn.pipeline import save_result
        from gnn.train import train_model

        prepared, current, config = _prepare(ctx, self.config)
        has_weights = current is not None and current.state_dict is not None
        if not ctx.inputs.train and not has_weights:
            raise RebuildError("--no-train needs a current bundle with trained weights to run over the new "
                               "graph; run `cartograph train` (or a rebuild without --no-train) first")
        if not ctx.inputs.train:
            mode, config = "inductive", config.model_copy(update={"epochs": 0})
        elif has_weights and not ctx.inputs.full:
            mode, config = "warm-start", config.model_copy(update={"epochs": self.finetune_epochs})
        else:
            mode = "full"
        init = _warm(current, prepared) if has_weights and mode != "full" else None
        result = train_model(prepared, config, progress=ctx.progress is not False, init=init)
        fault_point("model:after-train")
        current_metrics = None
        if mode == "inductive":  # the candidate *is* the current weights over the new graph: measured once
            current_metrics = result.metrics
        elif has_weights:  # what serves after the graph update, measured on the same split
            current_metrics = train_model(prepared, config.model_copy(update={"epochs": 0}), progress=False,
                                          init=_warm(current, prepared)).metrics
        assert ctx.settings.artifacts_dir is not None
        path = save_result(ctx.settings.artifacts_dir, prepared, result, {}, set_current=False)
        details = dict(ctx.record.step("model").details)
        details.update(mode=mode, bundle=path.name, epochs_run=len(result.history),
                       train_seconds=round(result.train_seconds, 1), metrics=result.metrics,
                       current_bundle=current.version if current is not None else None,
                       current_metrics=current_metrics)
        return details


class GateStep:
    """Publish only if the candidate does not regress against the current weights (see the module doc)."""

    name = "gate"

    def __init__(self, *, tolerance: float = 0.02) -> None:
        self.tolerance = tolerance

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from gnn.gate import evaluate_gate

        model = ctx.record.step("model").details
        decision = evaluate_gate(model["current_metrics"], model["metrics"], tolerance=self.tolerance)
        return {"publish": decision.publish, "reasons": decision.reasons, "compared": decision.compared,
                "tolerance": decision.tolerance, "current_bundle": model["current_bundle"],
                "candidate_bundle": model["bundle"]}


class PublishStep:
    """Make the candidate current if the gate passed (atomic pointer swap), else keep the current bundle; the
    job record goes beside the bundle either way."""

    name = "publish"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from gnn.bundle import set_current_bundle

        gate = ctx.record.step("gate").details
        artifacts = ctx.settings.artifacts_dir
        assert artifacts is not None
        ctx.record.save(artifacts / gate["candidate_bundle"] / "rebuild_job.json")
        if not gate["publish"]:
            return {"published": None, "kept": gate["current_bundle"]}
        fault_point("publish:before-swap")
        set_current_bundle(artifacts, gate["candidate_bundle"])
        return {"published": gate["candidate_bundle"], "replaced": gate["current_bundle"]}
