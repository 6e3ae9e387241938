"""Metric glue for the judged-query benchmark: graded labels and rankings in, per-query metrics out.

Labels follow Amazon's Shopping Queries data (ESCI): Exact, Substitute, Complement, Irrelevant, stored as
``E``/``S``/``C``/``I`` and given relevance 3/2/1/0. The metrics come from ``ir_measures`` (pytrec_eval
underneath), never computed here:

- ``ndcg@10``: nDCG@10 with the ESCI gains 1 / 0.1 / 0.01 / 0 (as the KDD Cup 2022 used them; pytrec_eval
  takes integer gains, so 100 / 10 / 1 / 0: nDCG does not change when every gain is scaled);
- ``p@5``: precision@5 with Exact as relevant; ``p@5_es``: with Exact or Substitute as relevant;
- ``mrr``: reciprocal rank of the first Exact product; ``recall@50``: share of the judged Exact products in the
  top 50.

A product the method returns that was never pooled has no label and counts as Irrelevant (pytrec_eval's
default), so a method that finds unjudged relevant products is under-rated, never over-rated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ir_measures
from ir_measures import RR, P, R, nDCG

GRADES = {"E": 3, "S": 2, "C": 1, "I": 0}
ESCI_GAINS = {3: 100, 2: 10, 1: 1, 0: 0}
MEASURES = {
    "ndcg@10": nDCG(gains=ESCI_GAINS) @ 10,
    "p@5": P(rel=3) @ 5,
    "p@5_es": P(rel=2) @ 5,
    "mrr": RR(rel=3),
    "recall@50": R(rel=3) @ 50,
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def qrels_by_query(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{query_id: {product_id: relevance}}`` from qrels rows ``{query_id, product_id, label}``."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        label = row["label"]
        if label not in GRADES:
            raise ValueError(f"qrels row {row!r}: label must be one of {', '.join(GRADES)}")
        out.setdefault(row["query_id"], {})[row["product_id"]] = GRADES[label]
    return out


def per_query(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """``{query_id: {metric: value}}`` for every query in ``runs`` that has at least one Exact label.

    ``runs[q]`` is the ranked list, best first; an empty list scores 0 on every metric (pytrec_eval would
    leave such a query out, which would hide zero-result queries)."""
    judged = {q: dict(labels) for q, labels in qrels.items() if q in runs and 3 in labels.values()}
    scored = [ir_measures.ScoredDoc(q, pid, float(len(ranking) - r))
              for q, ranking in runs.items() if q in judged for r, pid in enumerate(ranking)]
    names = {m: name for name, m in MEASURES.items()}
    out: dict[str, dict[str, float]] = {q: dict.fromkeys(MEASURES, 0.0) for q in judged}
    qrel_rows = [ir_measures.Qrel(q, pid, rel) for q, labels in judged.items() for pid, rel in labels.items()]
    for metric in ir_measures.iter_calc(list(MEASURES.values()), qrel_rows, scored):
        out[metric.query_id][names[metric.measure]] = float(metric.value)
    return out


def mean(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    rows = list(rows)
    if not rows:
        return {}
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
