"""``cartograph forget-user ID``: erase a user (docs/privacy.md)."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated

import typer

from api.models import ID_PATTERN
from api.privacy import forget_user
from cartograph.console import console, reports_errors, settings_from
from kg.errors import ValidationError
from kg.store import open_store


def forget_user_command(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="the user id, exactly as stored")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Erase a user: their node and edges in the graph, their events in the event files, lines naming them in
    quarantine files; recorded (as a digest) so that no bundle, old or new, serves them again. A running API
    stops serving them at its next watch tick. Idempotent: run it again after an interruption."""
    if not re.match(ID_PATTERN, user_id):
        raise ValidationError(f"not a user id the API accepts (ASCII letters, digits, _.:@+-): {user_id[:40]!r}")
    settings = settings_from(ctx)
    with open_store(settings) as store:
        report = forget_user(settings, store, user_id)
    if as_json:
        json.dump(report.as_dict(), sys.stdout)
        sys.stdout.write("\n")
        return
    console.print(f"forgot user {user_id!r}: {report.graph_users} user node and {report.graph_edges} relationships "
                  f"deleted, {report.event_lines} event lines and {report.quarantine_lines} quarantine lines "
                  f"dropped{'' if report.newly_forgotten else ' (forgotten before)'}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("forget-user")(reports_errors(forget_user_command))
