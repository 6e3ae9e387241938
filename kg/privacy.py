"""Forgotten users: the registry that keeps an erased user erased, and the file purges that erasure needs.

The registry (``<home>/privacy/forgotten.txt``) holds one SHA-256 digest of a user id per line, never the id:
it lets every later reader (the API at each bundle load and watch tick, an old bundle served after a rollback)
recognise a forgotten user without storing who they were. It is written before anything is erased, so an
erasure that stops half-way is finished by running it again, and the served bundle already hides the user.

:func:`purge_jsonl` drops a user's lines from a JSON-lines file (the event spool, the event log, ingest
quarantine files) by rewriting it next to itself and renaming it over, so a crash leaves the old file or the
new one, never a mix. Writers that append to such a file concurrently must hold their own lock around both.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from kg.config import Settings

REGISTRY = Path("privacy") / "forgotten.txt"


def user_digest(user_id: str) -> str:
    """The registry's form of a user id (SHA-256 of its UTF-8 bytes, hex)."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def registry_path(settings: Settings) -> Path:
    return settings.home / REGISTRY


def read_forgotten(path: Path) -> frozenset[str]:
    """The digests in the registry at ``path`` (empty when there is none)."""
    if not path.is_file():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def record_forgotten(path: Path, user_id: str) -> bool:
    """Add ``user_id``'s digest to the registry (flushed to disk); False when it was there already."""
    digest = user_digest(user_id)
    if digest in read_forgotten(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(digest + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True


def forgotten_among(user_ids: Iterable[str], forgotten: frozenset[str]) -> list[str]:
    """The ids of ``user_ids`` whose digest is in ``forgotten``."""
    if not forgotten:
        return []
    return [u for u in user_ids if user_digest(u) in forgotten]


def _mentions(line: str, user_id: str, key: str | None) -> bool:
    """Whether one JSON line is about the user: its ``key`` field is the id (``key=None``: the id appears as a
    JSON string anywhere in the line, for raw records whose field names vary, such as quarantined input)."""
    if key is not None:
        try:
            record = json.loads(line)
        except ValueError:
            return json.dumps(user_id) in line
        return isinstance(record, dict) and record.get(key) == user_id
    return json.dumps(user_id) in line or json.dumps(user_id, ensure_ascii=False) in line


def purge_jsonl(path: Path, user_id: str, *, key: str | None = "user_id") -> int:
    """Rewrite the JSON-lines file ``path`` without the lines about ``user_id``; returns how many went.

    ``key``: the field that holds the user id (``None``: any JSON string equal to the id, anywhere in the line).
    The file is replaced atomically and only when a line goes.
    """
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.strip() and _mentions(line, user_id, key):
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        tmp = path.with_name(path.name + ".forget.tmp")
        with tmp.open("w", encoding="utf-8", errors="surrogateescape") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped
