"""``cartograph quickstart``: the main job on one machine, from the shipped sample to a serving API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartograph.commands.extract import print_extract_summary
from cartograph.commands.ingest import NoProgressOption, print_ingest
from cartograph.commands.serve import serve
from cartograph.console import console, reports_errors, settings_from
from kg.config import Settings
from kg.errors import ValidationError
from kg.extract.pipeline import run_extract
from kg.ingest.run import run_ingest
from kg.store import GraphStore

#: Epochs of the quick start's training run: enough for sensible recommendations on the sample in well under
#: a minute on 2 cores (the full configuration is ``cartograph train``).
QUICKSTART_EPOCHS = 10


def train_quick(settings: Settings, epochs: int = QUICKSTART_EPOCHS, *, progress: bool = True,
                store: GraphStore | None = None, model: str = "auto") -> Path:
    """Train ``model`` (default: the candidates, the best on validation kept; no extra baselines) on the
    configured store (or ``store``, e.g. one a running API holds open) and publish its bundle; return its path."""
    from gnn.config import TrainConfig  # torch loads only when a command trains
    from gnn.pipeline import train_from_store

    config = TrainConfig.model_validate({"epochs": epochs, "eval_every": max(1, epochs // 5), "model": model})
    return train_from_store(settings, config, store=store, progress=progress, log=console.print).bundle


def quickstart(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="dataset to load (default: the shipped sample)")] = None,
    no_progress: NoProgressOption = False,
    no_extract: Annotated[bool, typer.Option("--no-extract", help="skip entity extraction")] = False,
    no_train: Annotated[bool, typer.Option("--no-train", help="stop after ingest and extraction (no model)")] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="do not start the API at the end")] = False,
    epochs: Annotated[int, typer.Option(min=1, help="training epochs (a fast default for the sample)")]
    = QUICKSTART_EPOCHS,
    host: Annotated[str, typer.Option(help="API interface (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="API port")] = 8000,
) -> None:
    """The main job on one machine: create the schema, load the shipped sample, extract entities from the
    product text, train a model on the graph, and serve recommendations, search and explanations over HTTP
    (stop with Ctrl-C)."""
    settings = settings_from(ctx)
    source = data or settings.sample_dir
    if not source.exists():
        raise ValidationError(f"no dataset at {source} (set CARTOGRAPH_SAMPLE_DIR or pass --data)")
    print_ingest(run_ingest(settings, source, progress=False if no_progress else None), show_counts=True)
    if not no_extract:  # incremental, so a re-run is quick
        print_extract_summary(run_extract(settings, progress=not no_progress))
    if no_train:
        return
    bundle = train_quick(settings, epochs, progress=not no_progress)
    console.print(f"bundle written: {bundle}", soft_wrap=True)
    if not no_serve:
        serve(settings, host, port)


def register(app: typer.Typer) -> None:
    app.command()(reports_errors(quickstart))
