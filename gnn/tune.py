"""``cartograph train --tune N``: a bounded search over a few documented hyper-parameters, on validation only.

Optuna's TPE sampler (seeded) proposes ``N`` configurations of the chosen model kind from :data:`SEARCH_SPACE`;
each trains with early stopping on valid NDCG@10, which is also the objective. The test split is never looked
at: the best trial's model is kept as trained, and its test metrics are reported like any other model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from gnn.config import TrainConfig
from gnn.prepared import Prepared
from gnn.train import TrainResult, train_model

#: Per model kind: parameter -> ("choice", values) | ("float", low, high) | ("log", low, high). Kinds not
#: listed have nothing worth searching (popularity) and are trained once.
SEARCH_SPACE: dict[str, dict[str, tuple[Any, ...]]] = {
    "kg_sasrec": {"seq_hidden_channels": ("choice", 64, 128, 256), "seq_dropout": ("float", 0.2, 0.6),
                  "seq_lr": ("choice", 1e-3, 2e-3), "graph_weight": ("float", 0.0, 0.8),
                  "seq_temperature": ("choice", 0.05, 0.07, 0.1),
                  "num_layers": ("choice", 1, 2, 3), "seq_blocks": ("choice", 1, 2, 3),
                  "seq_future_weight": ("choice", 0.0, 0.25, 0.5, 1.0)},
    "gnn": {"lr": ("choice", 1e-3, 5e-3, 1e-2), "num_layers": ("choice", 1, 2, 3), "reg": ("log", 1e-6, 1e-3),
            "hidden_channels": ("choice", 64, 128)},
    "lightgcn": {"lr": ("choice", 1e-3, 5e-3, 1e-2), "num_layers": ("choice", 1, 2, 3), "reg": ("log", 1e-6, 1e-3),
                 "hidden_channels": ("choice", 64, 128)},
    # Not ease_rank: up to ease_exact_max_products EASE ranks by its exact scores, which the rank does not touch.
    "ease": {"ease_l2": ("log", 20.0, 2000.0)},
}


@dataclass
class TuneResult:
    """The best trial's config and trained model, and every trial's parameters and validation score."""

    config: TrainConfig
    result: TrainResult
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.config.model, "trials": self.trials, "objective": "valid ndcg@10",
                "space": {k: list(v) for k, v in SEARCH_SPACE.get(self.config.model, {}).items()}}


def _suggest(trial: optuna.Trial, name: str, spec: tuple[Any, ...]) -> Any:
    kind, *values = spec
    if kind == "choice":
        return trial.suggest_categorical(name, values)
    return trial.suggest_float(name, values[0], values[1], log=kind == "log")


def _within(value: Any, spec: tuple[Any, ...]) -> bool:
    kind, *values = spec
    return value in values if kind == "choice" else values[0] <= value <= values[1]


def tune(prepared: Prepared, config: TrainConfig, trials: int, *, progress: bool = False,
         log: Callable[[str], None] | None = None) -> TuneResult:
    """Search ``SEARCH_SPACE[config.model]`` for ``trials`` trials. Trial 0 takes ``config``'s own values where
    the space holds them, so with the default config the result is never worse on validation than it."""
    space = SEARCH_SPACE.get(config.model, {})
    best: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = {name: _suggest(trial, name, spec) for name, spec in space.items()}
        cfg = config.model_copy(update=params)
        result = train_model(prepared, cfg, progress=progress)
        score = result.metrics["valid"]["ndcg@10"]
        rows.append({"trial": trial.number, **params, "valid_ndcg@10": round(score, 6),
                     "best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds, 1)})
        if log:
            log(f"trial {trial.number}: {params} -> valid ndcg@10 {score:.4f}")
        if not best or score > best["score"]:
            best.update(score=score, config=cfg, result=result)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    # The configured values are trial 0 where the space holds them (the others are sampled as usual).
    study.enqueue_trial({name: getattr(config, name) for name, spec in space.items()
                         if _within(getattr(config, name), spec)})
    study.optimize(objective, n_trials=max(trials, 1) if space else 1)
    return TuneResult(best["config"], best["result"], rows)
