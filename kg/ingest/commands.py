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
from kg.store import GraphStore, open_store


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
    from kg.store.compact import compact_before_append

    reader = open_reader(source, None if fmt is Format.AUTO else fmt.value)
    folder = run_dir(settings)
    compact_before_append(settings)  # works around a kuzu storage bug, see kg/store/compact.py
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
        no_extract: Annotated[bool, typer.Option("--no-extract", help="skip entity extraction")] = False,
        no_train: Annotated[bool, typer.Option("--no-train", help="stop after ingest and extraction (no model)")]
        = False,
        no_serve: Annotated[bool, typer.Option("--no-serve", help="do not start the API at the end")] = False,
        epochs: Annotated[int, typer.Option(min=1, help="training epochs (a fast default for the sample)")]
        = QUICKSTART_EPOCHS,
        host: Annotated[str, typer.Option(help="API interface (0.0.0.0: every interface)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="API port")] = 8000,
    ) -> None:
        """The main job on one machine: create the schema, load the shipped sample, extract entities from the
        product text, train a model on the graph, and serve recommendations, search and explanations over HTTP
        (stop with Ctrl-C)."""
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
        if not no_extract:
            _extract(settings, progress=not no_progress)
        if no_train:
            return
        try:
            bundle = train_quick(settings, epochs, progress=not no_progress)
        except CartographError as e:
            raise fail(e) from e
        from kg.cli import console

        console.print(f"bundle written: {bundle}", soft_wrap=True)
        if not no_serve:
            from api.commands import serve

            serve(settings, host, port)


def _extract(settings: Settings, *, progress: bool) -> None:
    """The quick start's extraction step (the default extractor; incremental, so a re-run is quick)."""
    from kg.cli import console, fail
    from kg.extract.commands import summary_tables
    from kg.extract.pipeline import run_extract

    try:
        summary = run_extract(settings, progress=progress)
    except CartographError as e:
        raise fail(e) from e
    if summary.message:
        console.print(summary.message, soft_wrap=True)
    out = Console() if Console().is_terminal else Console(width=130)
    for table in summary_tables(summary):
        out.print(table)


#: Epochs of the quick start's training run: enough for sensible recommendations on the sample in well under
#: a minute on 2 cores (the full configuration is ``cartograph train``).
QUICKSTART_EPOCHS = 10


def train_quick(settings: Settings, epochs: int = QUICKSTART_EPOCHS, *, progress: bool = True,
                store: GraphStore | None = None) -> Path:
    """Train the default GNN (no baselines) on the configured store (or ``store``, e.g. one a running API
    holds open) and publish its bundle; return its path."""
    from gnn.config import TrainConfig
    from gnn.data import snapshot_from_store
    from gnn.pipeline import prepare_with_text, save_result, train_all
    from gnn.text import TextEncoder
    from kg.cli import console

    config = TrainConfig(epochs=epochs, eval_every=max(1, epochs // 5))
    if store is not None:
        snapshot = snapshot_from_store(store)
    else:
        with open_store(settings, read_only=True) as own:
            snapshot = snapshot_from_store(own)
    if snapshot.inter_user.size == 0:
        raise ValidationError("the graph has no interactions to train on")
    encoder = TextEncoder(cache_dir=settings.home / "cache" / "text", num_threads=config.num_threads)
    prepared = prepare_with_text(snapshot, config, encoder, log=console.print)
    main, _ = train_all(prepared, config, baselines=(), progress=progress, log=console.print)
    assert settings.artifacts_dir is not None
    return save_result(settings.artifacts_dir, prepared, main, {})
