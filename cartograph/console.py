"""What every command shares: the error console, settings for the invocation, one error handler, tables."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from kg.config import Settings, load_settings
from kg.errors import CartographError

#: Messages, progress and errors go to stderr, so that stdout carries only results (tables, JSON).
console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def settings_from(ctx: typer.Context) -> Settings:
    """Settings for this invocation (``--config`` file, environment, defaults), built at startup."""
    config_file: Path | None = ctx.find_root().obj
    return load_settings(config_file)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`~kg.errors.CartographError` into its message on stderr and exit code 1 (no traceback)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CartographError as e:
            console.print(f"[red]error:[/red] {e}", soft_wrap=True)
            raise typer.Exit(code=1) from e

    return run


def results_console(min_width: int = 130) -> Console:
    """A stdout console that does not squeeze wide tables into a pipe or a narrow terminal."""
    out = Console()
    return out if out.is_terminal and out.width >= min_width else Console(width=max(out.width, min_width))


def counts_table(nodes: dict[str, int], relationships: dict[str, int]) -> Table:
    """Node counts per label and edge counts per type as a table (``info``, ``quickstart``)."""
    table = Table("kind", "name", "count", title="graph contents")
    for label, n in nodes.items():
        table.add_row("node", label, str(n))
    for rel, n in relationships.items():
        table.add_row("relationship", rel, str(n))
    return table
