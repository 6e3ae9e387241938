"""The ``cartograph`` command line: one Typer app, one module per command group under :mod:`cartograph.commands`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartograph.commands import (
    explore,
    extract,
    graph,
    ingest,
    models,
    privacy,
    quickstart,
    rebuild,
    search,
    serve,
    train,
)
from kg.progress import set_quiet

app = typer.Typer(help="Cartograph: knowledge-graph recommender for e-commerce.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (else CARTOGRAPH_CONFIG, env, defaults)")
]


QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="no progress bars or progress lines (for scripts; or CARTOGRAPH_QUIET=1)")
]


@app.callback()
def _main(ctx: typer.Context, config: ConfigOption = None, quiet: QuietOption = False) -> None:
    ctx.obj = config
    set_quiet(quiet)


for group in (graph, ingest, quickstart, extract, train, models, serve, rebuild, explore, privacy, search):
    group.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
