"""``cartograph init`` and ``info``: the store itself."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from cartograph.console import console, counts_table, reports_errors, settings_from
from kg.extract.link import prepare_store
from kg.ingest.quality import graph_quality, quality_lines, quality_table
from kg.store import open_store


def init(ctx: typer.Context) -> None:
    """Create the graph schema (idempotent): tables on the embedded engine, constraints on Neo4j."""
    settings = settings_from(ctx)
    with open_store(settings) as store:
        n = store.init_schema()
        prepare_store(store)  # graphs created before extraction existed get its properties
        where = settings.embedded_path if settings.resolved_backend == "embedded" else settings.neo4j_uri
        console.print(f"schema ready on {settings.resolved_backend} store at {where} ({n} statements)")


def info(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Show the configured store, its node and relationship counts and the catalog's data quality."""
    settings = settings_from(ctx)
    with open_store(settings, read_only=True) as store:
        nodes, relationships = store.count_nodes(), store.count_relationships()
        quality = graph_quality(store)
    if as_json:
        json.dump({"backend": settings.resolved_backend, "nodes": nodes, "relationships": relationships,
                   "quality": quality.model_dump(mode="json")}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    console.print(f"backend: {settings.resolved_backend}")
    out = Console()
    out.print(counts_table(nodes, relationships))
    if quality.products:
        out.print(quality_table(quality))
    for line in quality_lines(quality):
        console.print(f"[yellow]data quality:[/yellow] {line}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    for command in (init, info):
        app.command()(reports_errors(command))
