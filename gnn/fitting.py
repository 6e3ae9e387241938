"""The one early-stopping loop every trainable model uses: run epochs, evaluate on validation every
``eval_every`` epochs, keep the best state by valid NDCG@10, stop after ``patience`` evaluations without a
better one (or, for a candidate far behind the leader, at ``prune_after``), and show progress with an ETA
(:mod:`kg.progress`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch

from gnn.config import TrainConfig
from gnn.evaluation import evaluate_phases, ranking_inputs
from gnn.prepared import Prepared
from kg.progress import step

History = list[dict[str, float]]


#: The key a history row carries when training was cut short because the model was far behind the leader.
PRUNED_KEY = "pruned_below"


def fit_with_early_stopping(model: torch.nn.Module, prepared: Prepared, config: TrainConfig,
                            run_epoch: Callable[[], float], *, progress: bool = True,
                            stop_below: float | None = None) -> tuple[History, int]:
    """Train ``model`` by calling ``run_epoch`` (one pass over the data, returning its mean loss) until valid
    NDCG@10 stops improving, and leave it in its best state.

    Args:
        stop_below: a candidate's bar (``config.prune_ratio`` x the leading candidate's validation NDCG@10):
            when the best figure after ``config.prune_after`` epochs is still below it, training stops there
            and the last row carries :data:`PRUNED_KEY`. A model at half the leader's figure after that many
            epochs is not going to be served, and on amazon-beauty the graph candidates would otherwise train
            for longer than the served model (successive halving's argument, with one rung).

    Returns ``(history, best epoch)``: one row per epoch (loss, seconds and, on evaluated epochs, valid metrics).
    """
    best_score, best_state, best_epoch, waited = -1.0, copy.deepcopy(model.state_dict()), 0, 0
    history: History = []
    with step(f"training {config.model}", config.epochs, enabled=None if progress else False) as bar:
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            loss = run_epoch()
            row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - started}
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                # NDCG only: the figure that chooses (the full set is computed once, for the best state).
                valid = evaluate_phases(prepared, lambda phase: ranking_inputs(model, prepared, phase),
                                        batch_size=config.eval_batch_size, which=("valid",), ndcg_only=True)["valid"]
                row.update({f"valid_{k}": v for k, v in valid.items() if k != "users"})
                if valid["ndcg@10"] > best_score:
                    best_score, best_state, best_epoch, waited = (valid["ndcg@10"], copy.deepcopy(model.state_dict()),
                                                                  epoch, 0)
                else:
                    waited += 1
                # Early stopping ends training by this epoch unless validation improves: the bar's total, so
                # that its time left is that of the run, not of the epoch cap.
                bar.set_total(min(config.epochs, best_epoch + config.patience * config.eval_every))
                bar.describe(f"training {config.model} (loss {loss:.4f}, valid ndcg@10 {valid['ndcg@10']:.4f}, "
                             f"best epoch {best_epoch}; ends by epoch {bar.total:.0f} unless it improves)")
            if stop_below is not None and epoch >= config.prune_after and best_score < stop_below:
                row[PRUNED_KEY] = stop_below
            history.append(row)
            bar.advance()
            if waited >= config.patience or PRUNED_KEY in row:
                break
    model.load_state_dict(best_state)
    return history, best_epoch
