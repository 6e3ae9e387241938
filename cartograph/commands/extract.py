"""``cartograph extract`` and ``cartograph extract-train``: entities from product text (:mod:`kg.extract`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cartograph.console import console, reports_errors, results_console, settings_from
from kg.extract.factory import default_model_dir
from kg.extract.pipeline import ExtractSummary, run_extract
from kg.extract.train import TrainOptions, train_from


def summary_tables(summary: ExtractSummary) -> list[Table]:
    """The run summary: products, entities per type (new / mentions), and the problems counted."""
    products = Table("products", "count", title=f"entity extraction ({summary.extractor})")
    for label, n in (("in the graph", summary.products_total), ("unchanged (skipped)", summary.products_unchanged),
                     ("extracted", summary.products_processed), ("failed (kept, retried next run)",
                                                                  summary.products_failed)):
        products.add_row(label, str(n))
    types = Table("entity type", "new entities", "mentions", title="entities")
    for entity_type in sorted(set(summary.mentions_by_type) | set(summary.entities_new_by_type)):
        types.add_row(entity_type, str(summary.entities_new_by_type.get(entity_type, 0)),
                      str(summary.mentions_by_type.get(entity_type, 0)))
    types.add_row("total", str(summary.entities_new), str(summary.mentions))
    linking = Table("linking", "count")
    for label, n in (("mentions linked to existing entities", summary.mentions_linked_existing),
                     ("mentions of new entities", summary.mentions_to_new_entities),
                     ("near-duplicates merged", summary.near_duplicates_merged),
                     ("mentions whose type differs from their entity's", summary.type_conflicts),
                     ("orphan entities deleted", summary.orphan_entities_deleted),
                     ("model calls", summary.model_calls)):
        linking.add_row(label, str(n))
    problems = Table("problem", "count", title="input and extractor problems (counted, products kept)")
    for label, n in {**summary.input_problems, **summary.extractor_notes, **summary.errors}.items():
        problems.add_row(label, str(n))
    return [products, types, linking, *([problems] if problems.row_count else [])]


def print_extract_summary(summary: ExtractSummary) -> None:
    """The note (if any) on stderr, the summary tables on stdout."""
    if summary.message:
        console.print(f"[yellow]note:[/yellow] {summary.message}", soft_wrap=True)
    out = results_console()
    for table in summary_tables(summary):
        out.print(table)


def extract(
    ctx: typer.Context,
    extractor: Annotated[str | None, typer.Option(
        help="auto | lexicon | hybrid | tokens | llm (default: CARTOGRAPH_EXTRACTOR, else auto)")] = None,
    full: Annotated[bool, typer.Option("--full", help="extract every product, changed or not")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many products")] = None,
    no_merge_embeddings: Annotated[bool, typer.Option(
        "--no-merge-embeddings", help="do not load MiniLM to confirm near-duplicate merges")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bar")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Extract typed entities from product text and link them into the graph (only changed text)."""
    summary = run_extract(settings_from(ctx), extractor=extractor, full=full, limit=limit,
                          merge_by_embedding=not no_merge_embeddings,
                          progress=False if no_progress or as_json else None)
    if as_json:
        if summary.message:
            console.print(f"[yellow]note:[/yellow] {summary.message}", soft_wrap=True)
        json.dump(summary.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print_extract_summary(summary)
    console.print(f"{summary.products_processed} products extracted in {summary.seconds:.1f} s "
                  f"({summary.products_per_s:.0f} products/s)")


def extract_train(
    ctx: typer.Context,
    source: Annotated[list[Path] | None, typer.Option(
        "--source", help="dataset folder(s) to train on (default: the products in the graph)")] = None,
    gold: Annotated[list[Path] | None, typer.Option(
        help="gold-set JSONL file(s) whose products are held out (default: bench/gold/*.jsonl)")] = None,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 2,
    max_examples: Annotated[int | None, typer.Option(min=100, help="cap on training texts")] = None,
    out: Annotated[Path | None, typer.Option(help="model dir (default: artifacts/extract/minilm-ner)")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="torch threads")] = 2,
) -> None:
    """Fine-tune a MiniLM token classifier on weak labels (patterns, lexicons, catalog brands)."""
    settings = settings_from(ctx)
    options = TrainOptions(epochs=epochs, max_examples=max_examples, threads=threads)
    info = train_from(settings, sources=source or [], gold_files=gold, out=out or default_model_dir(settings),
                      options=options, log=console.print)
    console.print(f"model written to {info['model_dir']} ({info['examples']} examples, "
                  f"{info['seconds']:.0f} s); `cartograph extract` now uses it")


def register(app: typer.Typer) -> None:
    app.command()(reports_errors(extract))
    app.command("extract-train")(reports_errors(extract_train))
