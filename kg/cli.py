"""The ``cartograph`` command line. Settings are built here, at startup, and passed down."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kg.config import Settings, load_settings
from kg.errors import CartographError
from kg.store import GraphStore, open_store

app = typer.Typer(help="Cartograph: knowledge-graph recommender for e-commerce.", no_args_is_help=True)
console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (else CARTOGRAPH_CONFIG, env, defaults)")
]


@app.callback()
def _main(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config


def settings_from(ctx: typer.Context) -> Settings:
    """Settings for this invocation (``--config`` file, environment, defaults)."""
    return load_settings(ctx.obj)


def fail(error: CartographError) -> typer.Exit:
    console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code=1)


def counts_table(nodes: dict[str, int], relationships: dict[str, int]) -> Table:
    """Node counts per label and edge counts per type as a table (``info``, ``quickstart``)."""
    table = Table("kind", "name", "count", title="graph contents")
    for label, n in nodes.items():
        table.add_row("node", label, str(n))
    for rel, n in relationships.items():
        table.add_row("relationship", rel, str(n))
    return table


def _print_counts(store: GraphStore) -> None:
    Console().print(counts_table(store.count_nodes(), store.count_relationships()))


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the graph schema (idempotent): tables on the embedded engine, constraints on Neo4j."""
    try:
        settings = settings_from(ctx)
        from kg.extract.link import prepare_store

        with open_store(settings) as store:
            n = store.init_schema()
            prepare_store(store)  # graphs created before extraction existed get its properties
            where = settings.embedded_path if settings.resolved_backend == "embedded" else settings.neo4j_uri
            console.print(f"schema ready on {settings.resolved_backend} store at {where} ({n} statements)")
    except CartographError as e:
        raise fail(e) from e


@app.command()
def info(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Show the configured store and its node and relationship counts."""
    try:
        settings = settings_from(ctx)
        with open_store(settings, read_only=True) as store:
            if as_json:
                json.dump(
                    {
                        "backend": settings.resolved_backend,
                        "nodes": store.count_nodes(),
                        "relationships": store.count_relationships(),
                    },
                    sys.stdout,
                    indent=2,
                )
                sys.stdout.write("\n")
            else:
                console.print(f"backend: {settings.resolved_backend}")
                _print_counts(store)
    except CartographError as e:
        raise fail(e) from e


@app.command()
def compact(ctx: typer.Context) -> None:
    """Rewrite the embedded graph into a fresh file (same content, atomic swap). Rebuilds and ingests do this
    first by themselves; it works around a kuzu storage bug (see kg/store/compact.py) and returns space."""
    from kg.store.compact import compact_before_append

    try:
        report = compact_before_append(settings_from(ctx))
    except CartographError as e:
        raise fail(e) from e
    if report is None:
        console.print("nothing to compact (no embedded graph yet, or the backend is Neo4j)")
        return
    console.print(f"compacted {sum(report.rows.values()):,} rows in {report.seconds:.1f} s: "
                  f"{report.bytes_before / 1e6:.1f} MB -> {report.bytes_after / 1e6:.1f} MB")


def _register_subcommands() -> None:
    """Commands of other layers register themselves here (each module has ``register(app)``)."""
    # Import inside so `cartograph --help` stays fast and layers stay decoupled at import time.
    from gnn.commands import register as register_gnn
    register_gnn(app)
    from kg.ingest.commands import register as register_ingest
    register_ingest(app)
    from api.commands import register as register_api
    register_api(app)
    from kg.extract.commands import register as register_extract
    register_extract(app)
    from kg.rebuild.commands import register as register_rebuild
    register_rebuild(app)
    from kg.explore.commands import register as register_explore
    register_explore(app)


_register_subcommands()

if __name__ == "__main__":  # pragma: no cover
    app()
