"""``cartograph search-ranker train``: fit the search ranker on judged labels and search feedback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cartograph.console import console, reports_errors, settings_from

app = typer.Typer(help="the search ranker (docs/search.md)", no_args_is_help=True)


def train_command(
    ctx: typer.Context,
    labels: Annotated[Path | None, typer.Option(help="JSONL of {query, product_id, grade (0-3 or E/S/C/I)}")]
    = None,
    valid: Annotated[Path | None, typer.Option(help="validation labels, same format (reported, not trained on)")]
    = None,
    feedback: Annotated[bool, typer.Option(help="also learn from <home>/feedback/search.jsonl")] = True,
    rounds: Annotated[int, typer.Option(min=10, max=5000, help="boosting rounds")] = 200,
) -> None:
    """Train LightGBM lambdarank over the search features of the current bundle's index and save it beside
    the bundles (<artifacts>/search-ranker/); a running API uses it after its next reload."""
    from api.feedback import FEEDBACK_FILE, feedback_labels
    from api.ranker_training import LabelsError, read_labels, train_ranker
    from api.serving.index import load_index
    from api.serving.query_encoder import QueryEncoder
    from kg.store import open_store

    settings = settings_from(ctx)
    rows = read_labels(labels) if labels else []
    if feedback:
        rows += feedback_labels(settings.home / FEEDBACK_FILE)
    if not rows:
        raise LabelsError("no labels: give --labels FILE, or collect search feedback first (docs/search.md)")
    with open_store(settings) as store:
        index = load_index(settings, store)
    report = train_ranker(index, QueryEncoder(), rows, settings.artifacts_dir,
                          valid=read_labels(valid) if valid else (), rounds=rounds)
    console.print_json(json.dumps(report))


def register(root: typer.Typer) -> None:
    app.command("train")(reports_errors(train_command))
    root.add_typer(app, name="search-ranker")
