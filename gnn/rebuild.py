"""The model steps of a rebuild (train: warm-start or full; gate; publish) and :func:`rebuild_steps`, the whole job.

The graph steps (plan, graph, extract) and the job runner live in :mod:`kg.rebuild.job`; these steps run after
them, on the updated graph.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gnn.bundle import Bundle, load_bundle, set_current_bundle
from gnn.config import TrainConfig
from gnn.gate import evaluate_gate
from gnn.pipeline import prepare_with_text, read_snapshot, save_result, text_encoder, train_all
from gnn.prepared import Prepared
from gnn.train import train_model
from gnn.warm_start import warm_start
from kg.errors import RebuildError
from kg.rebuild.job import JobContext, Step, fault_point, graph_steps
from kg.rebuild.record import JobInputs

#: Called with the freshly built model before training (what :func:`gnn.train.train_model` takes as ``init``).
Init = Callable[[Any], None]


@dataclass
class Candidate:
    """What the model step trains from: the updated graph, prepared, and the current bundle (if any)."""

    prepared: Prepared
    current: Bundle | None
    config: TrainConfig

    @property
    def has_weights(self) -> bool:
        # EASE's bundle keeps its history rows in model.pt too: a solve, nothing to warm-start from
        return self.current is not None and self.current.state_dict is not None and self.current.config.trainable


def _current_bundle(ctx: JobContext) -> Bundle | None:
    try:
        return load_bundle(ctx.settings.artifacts_dir)
    except FileNotFoundError:
        return None


def _prepare(ctx: JobContext, full_config: TrainConfig | None) -> Candidate:
    """The updated graph, prepared with the current bundle's config (its weights need its architecture), except
    for a full build (``--full``, or no current bundle): then ``full_config``, else the default one."""
    current = _current_bundle(ctx)
    config = full_config or TrainConfig()
    if current is not None and not ctx.inputs.full:
        config = current.config
    snapshot = read_snapshot(ctx.settings)
    encoder = text_encoder(ctx.settings, config)
    encoder.encode(snapshot.product_texts())  # fills the cache; its counts show what the change cost
    counted = ("requested", "cache_hits", "encoded")
    text = {"product": {k: int(encoder.stats[k]) for k in counted}}
    prepared = prepare_with_text(snapshot, config, encoder, log=ctx.log)  # products now all cache hits
    if snapshot.num_nodes("entity"):
        text["entity"] = {k: int(encoder.stats[k]) for k in counted}
    ctx.record.step("model").details["text"] = text
    return Candidate(prepared, current, config)


def _warm(current: Bundle, prepared: Prepared) -> Init:
    """An initialiser carrying ``current``'s weights into a model for the new graph (rows matched by node id)."""
    weights = current.state_dict
    assert weights is not None  # only called when the bundle has trained weights

    def init(model: Any) -> None:
        warm_start(model, weights, current.id_maps, prepared.snapshot.ids)

    return init


class ModelStep:
    """Train the candidate, measure the current weights on the same graph and split, write the candidate as an
    unpublished bundle."""

    name = "model"

    def __init__(self, *, finetune_epochs: int = 5, config: TrainConfig | None = None) -> None:
        self.finetune_epochs = finetune_epochs
        self.config = config  # for a full build (default: the current bundle's, or the default)

    def _mode(self, ctx: JobContext, candidate: Candidate) -> tuple[str, TrainConfig]:
        if not ctx.inputs.train and not candidate.has_weights:
            raise RebuildError("--no-train needs a current bundle with trained weights to run over the new "
                               "graph; run `cartograph train` (or a rebuild without --no-train) first")
        if not ctx.inputs.train:
            return "inductive", candidate.config.model_copy(update={"epochs": 0})
        if candidate.has_weights and not ctx.inputs.full:
            return "warm-start", candidate.config.model_copy(update={"epochs": self.finetune_epochs})
        return "full", candidate.config

    def run(self, ctx: JobContext) -> dict[str, Any]:
        candidate = _prepare(ctx, self.config)
        prepared, current = candidate.prepared, candidate.current
        mode, config = self._mode(ctx, candidate)
        init = _warm(current, prepared) if current is not None and candidate.has_weights and mode != "full" else None
        selection = None
        if config.model == "auto":  # a full build with the default config: choose on validation, as train does
            result, _, selection = train_all(prepared, config, baselines=(), progress=ctx.progress is not False,
                                             log=ctx.log)
        else:
            result = train_model(prepared, config, progress=ctx.progress is not False, init=init)
        fault_point("model:after-train")
        current_metrics = None
        if mode == "inductive":  # the candidate *is* the current weights over the new graph: measured once
            current_metrics = result.metrics
        elif current is not None and candidate.has_weights:  # what serves after the graph update, same split
            current_metrics = train_model(prepared, config.model_copy(update={"epochs": 0}), progress=False,
                                          init=_warm(current, prepared)).metrics
        path = save_result(ctx.settings.artifacts_dir, prepared, result, {}, set_current=False, selection=selection)
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
        gate = ctx.record.step("gate").details
        artifacts = ctx.settings.artifacts_dir
        ctx.record.save(artifacts / gate["candidate_bundle"] / "rebuild_job.json")
        if not gate["publish"]:
            return {"published": None, "kept": gate["current_bundle"]}
        fault_point("publish:before-swap")
        set_current_bundle(artifacts, gate["candidate_bundle"])
        return {"published": gate["candidate_bundle"], "replaced": gate["current_bundle"]}


def rebuild_steps(inputs: JobInputs, *, finetune_epochs: int = 5, tolerance: float = 0.02,
                  config: TrainConfig | None = None) -> list[Step]:
    """The steps of a rebuild for ``inputs``: the graph steps, then (unless ``inputs.model`` is off) the model
    steps; ``config`` is the one a full build trains with."""
    steps = graph_steps()
    if inputs.model:
        steps += [ModelStep(finetune_epochs=finetune_epochs, config=config), GateStep(tolerance=tolerance),
                  PublishStep()]
    return steps
