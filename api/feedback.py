"""Search feedback: what each search showed, and what users did with it, appended to a JSONL file.

``<home>/feedback/search.jsonl`` gets one line per search (``kind: search``: query id, query, user, the
product ids shown in order) and one per event that names a query id (``kind: event``: query id, product,
position, action). Lines are flushed as written (a crash loses at most the line being written, and a torn
last line is skipped when read). :func:`feedback_labels` turns the file into graded labels for
ranker training: purchase 3, cart 2, click 1, and 0 for hits shown above a clicked one and not acted on
("skip above", the usual reading of click logs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("cartograph.api")
FEEDBACK_FILE = Path("feedback") / "search.jsonl"
ACTION_GRADE = {"click": 1, "cart": 2, "purchase": 3}
EVENT_ACTION = {"view": "click", "cart": "cart", "purchase": "purchase"}


class FeedbackLog:
    """Appends search and event lines (thread-safe; an unwritable file is logged, never fails a request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
        except OSError as e:
            log.warning("search feedback not written to %s: %s", self.path, e)

    def search(self, query_id: str, query: str, user_id: str | None, product_ids: Sequence[str]) -> None:
        self._append({"kind": "search", "query_id": query_id, "ts": int(time.time()), "query": query,
                      "user_id": user_id, "items": list(product_ids)})

    def event(self, query_id: str, user_id: str, product_id: str, position: int | None, action: str) -> None:
        self._append({"kind": "event", "query_id": query_id, "ts": int(time.time()), "user_id": user_id,
                      "product_id": product_id, "position": position, "action": action})


def read_feedback(path: Path) -> Iterator[dict[str, Any]]:
    """The file's records; lines that are not JSON objects (a torn last line) are skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def feedback_labels(path: Path) -> list[tuple[str, str, int]]:
    """(query, product id, grade) from the feedback file (see the module docstring)."""
    searches: dict[str, dict[str, Any]] = {}
    acted: dict[str, dict[str, int]] = {}
    for r in read_feedback(path):
        if r.get("kind") == "search" and isinstance(r.get("items"), list):
            searches[str(r.get("query_id"))] = r
        elif r.get("kind") == "event" and r.get("action") in ACTION_GRADE:
            grades = acted.setdefault(str(r.get("query_id")), {})
            pid = str(r.get("product_id"))
            grades[pid] = max(grades.get(pid, 0), ACTION_GRADE[r["action"]])
    labels = []
    for qid, grades in acted.items():
        shown = searches.get(qid)
        if shown is None:
            continue
        items = [str(p) for p in shown["items"]]
        deepest = max((items.index(p) for p in grades if p in items), default=-1)
        for pid in items[:deepest + 1]:
            labels.append((str(shown["query"]), pid, grades.get(pid, 0)))
    return labels
