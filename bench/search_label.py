"""Labelling aid for the judged queries: show pooled candidates compactly, turn a judge's grades into qrels.

    python bench/search_label.py show var/bench-search/pool.jsonl beauty-001 beauty-010   # a range of queries
    python bench/search_label.py add var/bench-search/pool.jsonl grades.txt               # append to qrels

``grades.txt`` has one line per query: ``<query id> <one letter per shown candidate, in order>`` with the
letters E, S, C, I (see bench/search/GUIDE.md). The grades are the judge's; this script only lines them up
with the product ids it showed and refuses a line whose length does not match the pool.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Any

QRELS = Path(__file__).resolve().parent / "search" / "qrels.jsonl"
GRADES = set("ESCI")


def _pool(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["query"]["id"]: r for r in rows}


def _clean(text: str, n: int) -> str:
    text = html.unescape(re.sub(r"<[^>]+>|[\[\]'\"]", " ", text))
    return re.sub(r"\s+", " ", text).strip()[:n]


def show(pool: dict[str, dict[str, Any]], first: str, last: str) -> None:
    for qid, row in pool.items():
        if not first <= qid <= last:
            continue
        q = row["query"]
        extra = q.get("corrected") or q.get("meaning") or ""
        print(f"## {qid} [{q['kind']}/{q['band']}] {q['text']!r}" + (f" = {extra!r}" if extra else ""))
        for i, p in enumerate(row["products"]):
            cats = ",".join(c for c in p["categories"] if c.lower() != "beauty")[:70]
            print(f"{i:2d} {p['brand'][:18]} | {cats} | {_clean(p['title'], 85)} | {_clean(p['description'], 40)}")


def add(pool: dict[str, dict[str, Any]], grades: Path) -> int:
    done = set()
    if QRELS.exists():
        done = {json.loads(line)["query_id"] for line in QRELS.read_text(encoding="utf-8").splitlines() if line}
    rows = []
    for line in grades.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        qid, letters = line.split()
        products = pool[qid]["products"]
        if len(letters) != len(products) or not set(letters) <= GRADES:
            raise SystemExit(f"{qid}: {len(letters)} grades for {len(products)} candidates, or a letter not in ESCI")
        if qid in done:
            raise SystemExit(f"{qid} is already in {QRELS}: grades are frozen once added")
        rows += [{"query_id": qid, "product_id": p["id"], "label": g} for p, g in zip(products, letters, strict=True)]
    with QRELS.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"added {len(rows)} judged pairs")
    return 0


if __name__ == "__main__":
    cmd, pool_path, *rest = sys.argv[1:]
    pool = _pool(Path(pool_path))
    if cmd == "show":
        show(pool, rest[0], rest[-1])
    else:
        sys.exit(add(pool, Path(rest[0])))
