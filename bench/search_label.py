"""Labelling aid for the judged queries: show pooled candidates compactly, turn a judge's grades into qrels.

    python bench/search_label.py show var/bench-search/pool.jsonl beauty-001 beauty-010   # a range of queries
    python bench/search_label.py add var/bench-search/pool.jsonl grades.txt               # append to qrels
    python bench/search_label.py round var/bench-search/pool_r2.jsonl var/bench-search/round2.jsonl  # re-pool

``grades.txt`` has one line per query: ``<query id> <one letter per shown candidate, in order>`` with the
letters E, S, C, I (see bench/search/GUIDE.md). The grades are the judge's; this script only lines them up
with the product ids it showed and refuses a line whose length does not match the pool.

Grades are frozen per pair: ``add`` appends the pairs never judged and never changes a judged one. A judged pair
shown again is a control: ``round`` mixes a sample of them (a quarter as many as the new pairs, at least one per
query) among the new pairs of a re-pooled query, shuffled, so that the judge cannot tell which is which, and
``add`` reports how often the judge gave a control its frozen grade (agreement and Cohen's kappa).
"""

from __future__ import annotations

import html
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

QRELS = Path(__file__).resolve().parent / "search" / "qrels.jsonl"
GRADES = set("ESCI")
CONTROL_SHARE = 0.25


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


def _judged() -> dict[tuple[str, str], str]:
    if not QRELS.exists():
        return {}
    rows = [json.loads(line) for line in QRELS.read_text(encoding="utf-8").splitlines() if line]
    return {(r["query_id"], r["product_id"]): r["label"] for r in rows}


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    """Agreement beyond chance between two gradings of the same items (Cohen 1960); 1.0 when both are constant."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[g] * second[g] for g in GRADES) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def add(pool: dict[str, dict[str, Any]], grades: Path) -> int:
    """Append the grades of pairs never judged; grades given to judged pairs (controls) are compared, not kept."""
    judged = _judged()
    rows, controls = [], []
    for line in grades.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        qid, letters = line.split()
        products = pool[qid]["products"]
        if len(letters) != len(products) or not set(letters) <= GRADES:
            raise SystemExit(f"{qid}: {len(letters)} grades for {len(products)} candidates, or a letter not in ESCI")
        for p, g in zip(products, letters, strict=True):
            frozen = judged.get((qid, p["id"]))
            if frozen is None:
                rows.append({"query_id": qid, "product_id": p["id"], "label": g})
            else:
                controls.append((frozen, g))
    with QRELS.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"added {len(rows)} judged pairs")
    if controls:
        agree = sum(a == b for a, b in controls) / len(controls)
        print(f"controls: {len(controls)} judged pairs graded again, agreement {agree:.3f}, "
              f"Cohen's kappa {cohen_kappa(controls):.3f} (frozen grades kept)")
    return 0


def make_round(pool: dict[str, dict[str, Any]], out: Path, seed: int = 0) -> int:
    """A pool of what is left to judge: per query, its never-judged products with controls mixed in, shuffled."""
    judged = _judged()
    rng = random.Random(seed)
    new_pairs = 0
    with out.open("w", encoding="utf-8") as f:
        for qid, row in pool.items():
            fresh = [p for p in row["products"] if (qid, p["id"]) not in judged]
            if not fresh:
                continue
            known = [p for p in row["products"] if (qid, p["id"]) in judged]
            sample = rng.sample(known, min(len(known), max(1, math.ceil(CONTROL_SHARE * len(fresh)))))
            shown = fresh + sample
            rng.shuffle(shown)
            new_pairs += len(fresh)
            f.write(json.dumps({"query": row["query"], "products": shown}, ensure_ascii=False) + "\n")
    print(f"{new_pairs} pairs never judged, with controls, written to {out}")
    return 0


if __name__ == "__main__":
    cmd, pool_path, *rest = sys.argv[1:]
    pool = _pool(Path(pool_path))
    if cmd == "show":
        show(pool, rest[0], rest[-1])
    elif cmd == "round":
        sys.exit(make_round(pool, Path(rest[0])))
    else:
        sys.exit(add(pool, Path(rest[0])))
