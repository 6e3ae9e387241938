"""``cartograph ingest``: validate, clean and load a dataset (:mod:`kg.ingest.run`).

The exit code is 0 when the load completed, even with quarantined records (they are data problems, reported,
not failures of the command), and 1 on an error, with its message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartograph.console import console, counts_table, reports_errors, results_console, settings_from
from kg.ingest.cleaning import MAX_DESCRIPTION_CHARS
from kg.ingest.quality import quality_lines
from kg.ingest.report import report_tables
from kg.ingest.run import Format, IngestRun, run_ingest

NoProgressOption = Annotated[bool, typer.Option("--no-progress", help="no progress bars")]


def print_ingest(run: IngestRun, *, show_counts: bool) -> None:
    """The report's tables on stdout (and the graph counts), the summary and file paths on stderr."""
    out = results_console()
    for table in report_tables(run.report):
        out.print(table)
    if show_counts:
        out.print(counts_table(run.nodes, run.relationships))
    r = run.report
    console.print(f"{r.read} records read, {r.quarantined} quarantined ({r.load_method} load, {r.wall_seconds:.1f} s)",
                  soft_wrap=True)
    for line in quality_lines(r.quality):
        console.print(f"[yellow]data quality:[/yellow] {line}", soft_wrap=True)
    console.print(f"quarantine: {r.quarantine_path}\nreport:     {r.report_path}", soft_wrap=True)


def ingest(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="dataset folder or file")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="source format (auto: detect)")] = Format.AUTO,
    quarantine: Annotated[Path | None, typer.Option(help="quarantine JSONL (default: in <home>/ingest/)")] = None,
    report: Annotated[Path | None, typer.Option(help="report JSON (default: under <home>/ingest/)")] = None,
    no_progress: NoProgressOption = False,
    max_description_chars: Annotated[
        int, typer.Option(min=100, help="cap on a cleaned description (longer ones are truncated, reported)")
    ] = MAX_DESCRIPTION_CHARS,
) -> None:
    """Validate, clean and load a dataset; bad records go to the quarantine file with the reason."""
    run = run_ingest(settings_from(ctx), source, fmt, quarantine=quarantine, report=report,
                     progress=False if no_progress else None, max_description_chars=max_description_chars)
    print_ingest(run, show_counts=False)


def register(app: typer.Typer) -> None:
    app.command("ingest")(reports_errors(ingest))
