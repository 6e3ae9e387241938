"""``cartograph query``, ``export-recs`` and ``export-rdf``: the graph for analysts and other tools."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cartograph.console import console, reports_errors, results_console, settings_from
from kg.config import Settings
from kg.errors import ValidationError
from kg.explore.query import run_query
from kg.explore.rdf_export import DEFAULT_BASE, RdfExporter, write_rdf
from kg.explore.recs import EdgeExport, ModelOutput, RecsExporter
from kg.progress import progress_bars
from kg.store import open_store
from kg.store.base import Record


class RdfFormat(StrEnum):
    BOTH = "both"
    TURTLE = "turtle"
    JSONLD = "jsonld"


def _json_default(value: Any) -> Any:
    """Values the engines return that JSON has no type for."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def rows_table(rows: Sequence[Record], title: str | None = None) -> Table:
    """Query rows as a table, columns in the order the query returned them."""
    columns = list(rows[0]) if rows else []
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def _progress(enabled: bool) -> Progress:
    return progress_bars(enabled)


def export_recs(settings: Settings, *, bundle: Path | None, k: int, similar_k: int, batch_size: int,
                model_name: str | None, similar: bool, progress: bool) -> list[tuple[str, EdgeExport]]:
    """Load the bundle's embeddings and write RECOMMENDED (and SIMILAR_TO) edges; returns one summary each."""
    from gnn.bundle import load_bundle  # torch loads only when a command needs it
    from gnn.data import snapshot_from_store
    from gnn.history import bundle_item_regression_scores, bundle_lookup_scores

    try:
        loaded = load_bundle(bundle or settings.artifacts_dir)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ValidationError(f"cannot load the bundle: {e}") from e
    with open_store(settings) as store, _progress(progress) as bars:
        output = ModelOutput(
            model=model_name or f"{loaded.manifest.get('model', 'model')}@{loaded.version}",
            user_ids=loaded.id_maps.get("user", []), product_ids=loaded.id_maps.get("product", []),
            users=loaded.user_embeddings, products=loaded.product_embeddings,
            # the scores serving adds beside the dot products, so the edges rank as the API does
            extra_scores=bundle_lookup_scores(loaded, lambda: snapshot_from_store(store)),
            own_scores=bundle_item_regression_scores(loaded, lambda: snapshot_from_store(store)),
        )
        tasks = {"RECOMMENDED": bars.add_task("RECOMMENDED", total=len(output.user_ids))}
        if similar:
            tasks["SIMILAR_TO"] = bars.add_task("SIMILAR_TO ", total=len(output.product_ids))
        exporter = RecsExporter(store, output, k=k, similar_k=similar_k, batch_size=batch_size,
                                on_batch=lambda rel, n: bars.advance(tasks[rel], n))
        results = [exporter.export_recommended()]
        if similar:
            results.append(exporter.export_similar())
    return [(output.model, r) for r in results]


def query(
    ctx: typer.Context,
    cypher: Annotated[str | None, typer.Argument(help="a read-only Cypher statement")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="a named query, e.g. explore/user_neighbourhood")]
    = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="name=value or name:type=value")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="rows as a JSON list")] = False,
) -> None:
    """Run a read-only Cypher statement or named query against the configured store; print a table."""
    rows = run_query(settings_from(ctx), cypher, name, param or [])
    if as_json:
        json.dump(rows, sys.stdout, indent=2, default=_json_default, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    results_console(200).print(rows_table(rows))
    console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")


def export_recs_command(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("--k", min=1, help="recommendations per user")] = 10,
    similar_k: Annotated[int, typer.Option(min=1, help="similar products per product")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="users (products) per replace batch")] = 500,
    bundle: Annotated[Path | None, typer.Option(help="bundle dir (default: the current one)")] = None,
    model_name: Annotated[str | None, typer.Option(help="r.model value (default: <model>@<bundle version>)")]
    = None,
    no_similar: Annotated[bool, typer.Option("--no-similar", help="skip SIMILAR_TO")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bars")] = False,
) -> None:
    """Write the bundle's top-k per user (RECOMMENDED) and per product (SIMILAR_TO) into the graph,
    replacing the previous model's edges batch by batch (re-runnable; see kg/explore/recs.py)."""
    done = export_recs(settings_from(ctx), bundle=bundle, k=k, similar_k=similar_k, batch_size=batch_size,
                       model_name=model_name, similar=not no_similar,
                       progress=not no_progress and console.is_terminal)
    table = Table("relationship", "model", "sources", "written", "missing endpoints", "pruned",
                  "other models removed", title="export-recs")
    for model, r in done:
        table.add_row(r.rel_type, model, str(r.sources), str(r.written), str(r.missing_endpoints),
                      str(r.pruned), str(r.other_models_removed))
    Console(width=160).print(table)


def export_rdf_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("rdf-export"),
    stem: Annotated[str, typer.Option(help="file name without suffix")] = "cartograph",
    fmt: Annotated[RdfFormat, typer.Option("--format", "-f", help="turtle, jsonld or both")] = RdfFormat.BOTH,
    product: Annotated[list[str] | None, typer.Option("--product", help="export around these products only")]
    = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many products (by id)")] = None,
    include_users: Annotated[bool, typer.Option(
        "--include-users", help="also export users (their ids) and their interactions; left out by default, "
        "as personal data (docs/privacy.md)")] = False,
    base: Annotated[str | None, typer.Option(help="base IRI for node IRIs")] = None,
) -> None:
    """Write the graph (or the subgraph around --product / the first --limit products) as schema.org
    Turtle and JSON-LD."""
    with open_store(settings_from(ctx), read_only=True) as store:
        exporter = RdfExporter(store, base or DEFAULT_BASE)
        ids = exporter.select_products(product, limit)
        graph = exporter.export(ids, with_users=include_users)
    formats = ["turtle", "jsonld"] if fmt is RdfFormat.BOTH else [fmt.value]
    paths = write_rdf(graph, out, stem, formats)
    c = exporter.counts
    console.print(f"{c.products} products, {c.brands} brands, {c.categories} categories, {c.entities} entities, "
                  f"{c.users} users, edges {json.dumps(c.edges)}: {c.triples} triples", soft_wrap=True)
    for path in paths:
        console.print(f"wrote {path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("query")(reports_errors(query))
    app.command("export-recs")(reports_errors(export_recs_command))
    app.command("export-rdf")(reports_errors(export_rdf_command))
