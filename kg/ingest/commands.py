"""``cartograph ingest`` and ``cartograph quickstart``: the ingest pipeline on the command line.

Both create the schema first (idempotent), so a fresh home needs no separate ``cartograph init``. Every
ingest writes its quarantine file and report under ``<home>/ingest/<UTC timestamp>/`` unless told otherwise,
so earlier runs stay inspectable. The exit code is 0 when the load completed, even with quarantined records
(they are data problems, reported, not failures of the command), and 1 on an error, with its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kg.config import Settings
from kg.errors import CartographError, ValidationError
from kg.ingest.cleaning import MAX_DESCRIPTION_CHARS
from kg.ingest.report import IngestReport, report_tables
from kg.store import open_store


class Format(StrEnum):
    AUTO = "auto"
    CARTOGRAPH = "cartograph"
    AMAZON_BEAUTY = "amazon-beauty"
    AMAZON_OFFICE = "amazon-office"
    JSONLD = "jsonld"
    TURTLE = "turtle"


@dataclass(frozen=True)
class IngestRun:
    report: IngestReport
    nodes: dict[str, int]
    relationships: dict[str, int]


def run_dir(settings: Settings) -> Path:
    """A new folder ``<home>/ingest/<UTC timestamp>[-n]`` for one run's quarantine file and report."""
    base = settings.home / "ingest" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_ingest(
    settings: Settings,
    source: Path,
    fmt: Format = Format.AUTO,
    *,
    quarantine: Path | None = None,
    report: Path | None = None,
    progress: bool | None = None,
    max_description_chars: int = MAX_DESCRIPTION_CHARS,
) -> IngestRun:
    """Create the schema, ingest ``source`` into the configured store, return the report and graph counts."""
    from kg.ingest.pipeline import ingest  # heavy imports (kuzu, pyarrow): only when ingesting
    from kg.ingest.readers import open_reader

    reader = open_reader(source, None if fmt is Format.AUTO else fmt.value)
    folder = run_dir(settings)
    with open_store(settings) as store:
        store.init_schema()
        result = ingest(
            reader, store,
            quarantine_path=quarantine or folder / "quarantine.jsonl",
            report_path=report or folder / "report.json",
            progress=progress, max_description_chars=max_description_chars,
        )
        return IngestRun(result, store.count_nodes(), store.count_relationships())


def _print(run: IngestRun, show_counts: bool) -> None:
    from kg.cli import console, counts_table

    out = Console()
    out = out if out.is_terminal else Console(width=130)  # pipes and files: do not squeeze the columns
    for table in report_tables(run.report):
        out.print(table)
    if show_counts:
        out.print(counts_table(run.nodes, run.relationships))
    r = run.report
    console.print(f"{r.read} records read, {r.quarantined} quarantined ({r.load_method} load, {r.wall_seconds:.1f} s)",
                  soft_wrap=True)
    console.print(f"quarantine: {r.quarantine_path}\nreport:     {r.report_path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``quickstart`` to the ``cartograph`` app."""

    @app.command("ingest")
    def ingest_command(
        ctx: typer.Context,
        source: Annotated[Path, typer.Argument(help="dataset folder or file")],
        fmt: Annotated[Format, typer.Option("--format", "-f", help="source format (auto: detect)")] = Format.AUTO,
        quarantine: Annotated[Path | None, typer.Option(help="quarantine JSONL (default: in <home>/ingest/)")] = None,
        report: Annotated[Path | None, typer.Option(help="report JSON (default: under <home>/ingest/)")] = None,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bars")] = False,
        max_description_chars: Annotated[
            int, typer.Option(min=100, help="cap on a cleaned description (longer ones are truncated, reported)")
        ] = MAX_DESCRIPTION_CHARS,
    ) -> None:
        """Validate, clean and load a dataset; bad records go to the quarantine file with the reason."""
        from kg.cli import fail, settings_from

        try:
            run = run_ingest(settings_from(ctx), source, fmt, quarantine=quarantine, report=report,
                             progress=False if no_progress else None, max_description_chars=max_description_chars)
        except CartographError as e:
            raise fail(e) from e
        _print(run, show_counts=False)

    @app.command()
    def quickstart(
        ctx: typer.Context,
        data: Annotated[Path | None, typer.Option(help="dataset to load (default: the shipped sample)")] = None,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bars")] = False,
    ) -> None:
        """The main job on one machine: create the schema, load the shipped sample, show the graph."""
        from kg.cli import fail, settings_from

        try:
            settings = settings_from(ctx)
            source = data or settings.sample_dir
            if not source.exists():
                raise ValidationError(f"no dataset at {source} (set CARTOGRAPH_SAMPLE_DIR or pass --data)")
            run = run_ingest(settings, source, progress=False if no_progress else None)
        except CartographError as e:
            raise fail(e) from e
        _print(run, show_counts=True)
