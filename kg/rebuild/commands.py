"""``cartograph rebuild``: bring the graph up to date after a catalog export (see :mod:`kg.rebuild.job`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kg.rebuild.record import JobRecord


def record_table(record: JobRecord) -> Table:
    table = Table("step", "status", "seconds", "attempts", "details", title=f"rebuild job {record.job_id}")
    for name, step in record.steps.items():
        details = ", ".join(f"{k}={v}" for k, v in step.details.items()) or (step.error or "")
        table.add_row(name, step.status, "-" if step.seconds is None else f"{step.seconds:.1f}", str(step.attempts),
                      details)
    return table


def register(app: typer.Typer) -> None:
    """Add ``rebuild`` to the ``cartograph`` app."""

    @app.command()
    def rebuild(
        ctx: typer.Context,
        catalog: Annotated[Path, typer.Option(help="the new catalog export (any ingest format; the whole catalog "
                                                   "of its source: products it no longer lists become inactive)")],
        events: Annotated[Path | None, typer.Option(help="new events (interactions) to add")] = None,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bars")] = False,
    ) -> None:
        """Apply a catalog export: diff by id and content hash, upsert added and changed products, deactivate
        removed ones. Resumable: after a crash, run the same command again."""
        from kg.cli import console, fail, settings_from
        from kg.errors import CartographError
        from kg.rebuild.job import RebuildJob, default_steps, job_inputs

        try:
            settings = settings_from(ctx)
            inputs = job_inputs(catalog, events, full=False, train=False)
            job = RebuildJob(settings, inputs, default_steps(train=False), log=console.print,
                             progress=False if no_progress else None)
            record = job.run()
        except CartographError as e:
            raise fail(e) from e
        Console(width=max(Console().width, 120)).print(record_table(record))
        console.print(f"outcome: {record.outcome}; job record: {job.record_path}")
