"""Erasing a user (``cartograph forget-user ID``, ``DELETE /users/{id}``) and keeping them erased in what the
API serves. What is stored about a user and where is listed in docs/privacy.md.

:func:`forget_user` works in this order, each step idempotent, so a run that stops half-way is finished by
running it again:

1. the user's digest goes into the registry (:mod:`kg.privacy`): from then on every bundle the API loads, and
   the one it serves (at its next watch tick), treats the user as unknown, whatever a bundle file still holds;
2. the user's node and every edge of it (interactions, RECOMMENDED) leave the graph, so the next training or
   rebuild does not see them;
3. their lines leave the JSON-lines files under ``<home>/events/`` (an older spool) and ``<home>/feedback/``
   (search feedback), and the ingest and rebuild quarantine files under ``<home>`` (raw records: any line
   holding the id as a string). The event log's segments (``<home>/events/*.log``) are not rewritten under the
   running log: its graph writer skips a forgotten user's events (:mod:`api.event_writer`), and a segment is
   deleted once the writer has passed it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.config import Settings
from kg.privacy import forgotten_among, purge_jsonl, record_forgotten, registry_path
from kg.schema import NodeLabel
from kg.store import GraphStore

if TYPE_CHECKING:  # the command line imports this module: no torch at its start
    from api.serving.index import ServingIndex

#: Folders under the home holding JSON lines with a ``user_id`` field: an older event spool, search feedback.
USER_LINE_DIRS = ("events", "feedback")


@dataclass(frozen=True)
class ForgetReport:
    user_id: str
    newly_forgotten: bool
    graph_users: int
    graph_edges: int
    event_lines: int
    quarantine_lines: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quarantine_files(home: Path) -> Iterator[Path]:
    if home.is_dir():
        yield from sorted(p for p in home.rglob("*quarantine*.jsonl") if p.is_file())


def purge_user_events(settings: Settings, user_id: str) -> int:
    """Drop the user's lines from every JSON-lines file under ``<home>/events/`` and ``<home>/feedback/``;
    returns how many went.

    Callers that append to those files hold their lock around this call (see :func:`forget_user`).
    """
    files = [p for d in USER_LINE_DIRS for p in sorted((settings.home / d).rglob("*.jsonl"))
             if (settings.home / d).is_dir() and p.is_file()]
    return sum(purge_jsonl(p, user_id, key="user_id") for p in files)


def forget_user(settings: Settings, store: GraphStore, user_id: str, *,
                events_lock: AbstractContextManager[Any] | None = None) -> ForgetReport:
    """Erase ``user_id`` (see the module docstring). ``events_lock``: held while event files are rewritten,
    so that a running API does not append to a file being replaced."""
    newly = record_forgotten(registry_path(settings), user_id)
    rows = store.run_named("privacy/user_edges", {"user_id": user_id})
    edges = int(rows[0]["edges"]) if rows else 0
    users = store.delete_nodes(NodeLabel.USER, [user_id])
    with events_lock or nullcontext():
        events = purge_user_events(settings, user_id)
    quarantined = sum(purge_jsonl(p, user_id, key=None) for p in _quarantine_files(settings.home))
    return ForgetReport(user_id, newly, users, edges, events, quarantined)


def hide_forgotten(index: ServingIndex, forgotten: frozenset[str]) -> list[str]:
    """Make the forgotten users of ``index`` unknown to it: no stored vector, no history (they get the cold
    start answer, and a 404 for explanations). Returns the ids hidden now."""
    hidden = forgotten_among(list(index.user_index) + list(index.catalog.user_index), forgotten)
    for user_id in dict.fromkeys(hidden):
        index.user_index.pop(user_id, None)
        index.catalog.user_index.pop(user_id, None)
    return list(dict.fromkeys(hidden))
