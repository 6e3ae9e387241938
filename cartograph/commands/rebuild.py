"""``cartograph rebuild``: bring the graph and the model up to date after a catalog export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cartograph.console import console, reports_errors, results_console, settings_from
from kg.errors import RebuildError
from kg.rebuild.job import RebuildJob, job_inputs
from kg.rebuild.record import JobRecord


def record_table(record: JobRecord) -> Table:
    table = Table("step", "status", "seconds", "attempts", "details", title=f"rebuild job {record.job_id}")
    for name, step in record.steps.items():
        details = ", ".join(f"{k}={v}" for k, v in step.details.items()) or (step.error or "")
        table.add_row(name, step.status, "-" if step.seconds is None else f"{step.seconds:.1f}", str(step.attempts),
                      details)
    return table


def rebuild(
    ctx: typer.Context,
    catalog: Annotated[Path, typer.Option(help="the new catalog export (any ingest format; the whole catalog "
                                               "of its source: products it no longer lists become inactive)")],
    events: Annotated[Path | None, typer.Option(help="new events (interactions) to add")] = None,
    full: Annotated[bool, typer.Option("--full", help="retrain from scratch instead of a warm start")] = False,
    no_train: Annotated[bool, typer.Option(
        "--no-train", help="no training: run the current weights over the new graph (inductive embeddings "
                           "for new and changed products), then gate and publish")] = False,
    no_model: Annotated[bool, typer.Option("--no-model", help="update the graph only")] = False,
    finetune_epochs: Annotated[int, typer.Option(min=1, help="warm-start fine-tuning epochs")] = 5,
    tolerance: Annotated[float, typer.Option(
        min=0.0, max=0.99, help="largest relative metric drop the gate accepts")] = 0.02,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TrainConfig JSON for a full build (--full, or no current bundle)")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bars")] = False,
) -> None:
    """Apply a catalog export and bring the model up to date: diff by id and content hash, upsert added and
    changed products, deactivate removed ones, fine-tune (or retrain), gate, publish. Resumable: after a
    crash, run the same command again."""
    from gnn.config import TrainConfig  # torch loads only when a command needs it
    from gnn.rebuild import rebuild_steps

    settings = settings_from(ctx)
    if full and no_train:
        raise RebuildError("--full and --no-train contradict each other: choose one")
    inputs = job_inputs(catalog, events, full=full, train=not no_train, model=not no_model)
    train_config = TrainConfig.load(config) if config else None
    steps = rebuild_steps(inputs, finetune_epochs=finetune_epochs, tolerance=tolerance, config=train_config)
    job = RebuildJob(settings, inputs, steps, log=console.print, progress=False if no_progress else None)
    record = job.run()
    results_console(120).print(record_table(record))
    console.print(f"outcome: {record.outcome}" + (f" ({record.reason})" if record.reason else "")
                  + f"; job record: {job.record_path}")


def register(app: typer.Typer) -> None:
    app.command()(reports_errors(rebuild))
