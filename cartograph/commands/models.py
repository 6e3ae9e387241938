"""``cartograph models list | show | use VERSION | rollback``: the model bundles and which one is served
(:mod:`gnn.versions`). A running API reloads when the served bundle changes, as after a publish."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from cartograph.console import console, reports_errors, results_console, settings_from

models_app = typer.Typer(help="List model bundles, show one, serve another, roll back.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable")]


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "" if value is None else str(value)


def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every bundle, oldest first, with its test metrics; the served one marked with *."""
    from gnn.versions import list_bundles

    bundles = [b.summary() for b in list_bundles(settings_from(ctx).artifacts_dir)]
    if as_json:
        json.dump(bundles, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not bundles:
        console.print("no bundles yet (run `cartograph train`)")
        return
    table = Table("", *(k for k in bundles[0] if k != "current"), title="model bundles")
    for b in bundles:
        table.add_row("*" if b["current"] else "", *(_fmt(v) for k, v in b.items() if k != "current"))
    results_console().print(table)


def show(ctx: typer.Context, version: Annotated[str | None, typer.Argument(help="name or unique prefix "
                                                                             "(default: the served one)")] = None,
         as_json: JsonOption = False) -> None:
    """One bundle: its manifest summary and every model's metrics (the baselines trained beside it)."""
    from gnn.pipeline import metrics_rows
    from gnn.versions import VersionError, current_version, find_bundle

    artifacts = settings_from(ctx).artifacts_dir
    version = version or current_version(artifacts)
    if version is None:
        raise VersionError(f"no current bundle in {artifacts} (run `cartograph train`)")
    bundle = find_bundle(artifacts, version)
    if as_json:
        json.dump({**bundle.summary(), "path": str(bundle.path), "metrics": bundle.metrics}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    out = results_console()
    for key, value in bundle.summary().items():
        out.print(f"{key}: {_fmt(value)}")
    out.print(f"path: {bundle.path}")
    if bundle.metrics.get("metrics"):
        rows = metrics_rows(bundle.metrics)
        names = sorted({name for _, m in rows for name in m})
        table = Table("model", *names, title="test metrics")
        for model, m in rows:
            table.add_row(model, *(_fmt(m.get(n)) for n in names))
        out.print(table)


def use(ctx: typer.Context, version: Annotated[str, typer.Argument(help="bundle name or unique prefix")]) -> None:
    """Serve VERSION: move the `current` pointer (a running API reloads within CARTOGRAPH_BUNDLE_WATCH_S)."""
    from gnn.versions import use_bundle

    bundle = use_bundle(settings_from(ctx).artifacts_dir, version)
    console.print(f"now serving {bundle.version} ({bundle.model}, created {bundle.created})", soft_wrap=True)


def rollback(ctx: typer.Context) -> None:
    """Serve the bundle that was served before the current one (repeat to go further back)."""
    from gnn.versions import rollback as roll_back

    bundle = roll_back(settings_from(ctx).artifacts_dir)
    console.print(f"rolled back: now serving {bundle.version} ({bundle.model}, created {bundle.created})",
                  soft_wrap=True)


def register(app: typer.Typer) -> None:
    models_app.command("list")(reports_errors(list_command))
    models_app.command("show")(reports_errors(show))
    models_app.command("use")(reports_errors(use))
    models_app.command("rollback")(reports_errors(rollback))
    app.add_typer(models_app, name="models")
