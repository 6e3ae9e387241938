"""``cartograph train`` and ``cartograph evaluate``: the model on a snapshot of the graph (:mod:`gnn.pipeline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cartograph.console import console, reports_errors, results_console, settings_from
from kg.errors import ValidationError

METRIC_COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@10", "mrr", "coverage@10")


def _table(title: str, rows: list[tuple[str, dict[str, float]]]) -> Table:
    table = Table("model", *METRIC_COLUMNS, title=title)
    for name, m in rows:
        table.add_row(name, *(f"{m[c]:.4f}" if c in m else "-" for c in METRIC_COLUMNS))
    return table


def metrics_rows(doc: dict[str, Any], split: str = "test") -> list[tuple[str, dict[str, float]]]:
    """(model, metrics of ``split``) rows: the baselines, then the main model."""
    rows = [(k, v["metrics"].get(split, {})) for k, v in doc.get("baselines", {}).items()]
    rows.append((str(doc["model"]), doc["metrics"].get(split, {})))
    return rows


def print_metrics(doc: dict[str, Any]) -> None:
    out = results_console(140)  # the table is wide: never squeeze model names
    out.print(_table("test (leave-one-out, warm products, full ranking)", metrics_rows(doc, "test")))
    if any("cold" in m for _, m in metrics_rows(doc, "test")) or "cold" in doc["metrics"]:
        out.print(_table("cold slice (products never trained on, ranked among cold products)",
                         metrics_rows(doc, "cold")))


def train(
    ctx: typer.Context,
    epochs: Annotated[int | None, typer.Option(help="override the config's epochs")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TrainConfig JSON file")] = None,
    model: Annotated[str | None, typer.Option(
        help="the model kind: auto (the candidates, best on validation), kg_sasrec, gnn, lightgcn, ...")] = None,
    tune: Annotated[int, typer.Option(min=0, help="search the chosen model's hyper-parameters for N trials "
                                                  "(on validation; see gnn/tune.py)")] = 0,
    baselines: Annotated[bool, typer.Option(help="also train and evaluate every baseline (bpr_mf, lightgcn, "
                                                 "text_only, gnn_notext, popularity) beside the candidates: a "
                                                 "comparison, not needed to serve")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="models trained at once, each in its own process "
                                                            "(default: the config's train_workers)")] = None,
    text_model: Annotated[Path | None, typer.Option(help="transformers model dir (default MiniLM)")] = None,
) -> None:
    """Train on a snapshot of the graph, evaluate against the baselines, write a bundle and make it current."""
    from gnn.config import TrainConfig  # torch loads only when a command trains
    from gnn.pipeline import BASELINES, train_from_store

    settings = settings_from(ctx)
    cfg = TrainConfig.load(config) if config else TrainConfig()
    updates = {k: v for k, v in (("epochs", epochs), ("model", model), ("train_workers", workers))
               if v is not None}
    try:
        cfg = TrainConfig.model_validate({**cfg.model_dump(), **updates})
    except ValueError as e:
        raise ValidationError(f"invalid training config: {e}") from e
    run = train_from_store(settings, cfg, baselines=BASELINES if baselines else (), text_model=text_model,
                           log=console.print, tune_trials=tune)
    print_metrics(run.metrics_document())
    if run.selection is not None:
        console.print(f"serving {run.main.config.model}: {run.selection.reason}", soft_wrap=True)
    console.print(f"bundle written: {run.bundle}")


def evaluate(
    ctx: typer.Context,
    bundle: Annotated[Path | None, typer.Option(help="bundle dir (default: the current one)")] = None,
) -> None:
    """Re-evaluate a bundle on the graph's current snapshot, beside the parameter-free baselines."""
    from gnn.evaluate import evaluate_bundle

    settings = settings_from(ctx)
    print_metrics(evaluate_bundle(settings, bundle or settings.artifacts_dir, warn=console.print))


def register(app: typer.Typer) -> None:
    app.command()(reports_errors(train))
    app.command()(reports_errors(evaluate))
