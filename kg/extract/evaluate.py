"""Scoring extractors against a hand-labelled gold set (``bench/gold/extract_gold.jsonl``).

Entity-level, per product: the gold entities and the predicted ones are both reduced to sets of
``(type, canonical key)`` (:func:`kg.extract.normalise.canonical_key`), so that spelling variants of one
entity count once, whichever extractor produced them (an LLM returns strings, not offsets).

- **strict**: a prediction is correct when the same (type, key) is in the gold set of that product;
- **lenient**: also when the keys are of the same type and one's words contain the other's
  (``gel pens`` for gold ``gel pens`` or ``retractable gel pens``), matched one to one: boundaries of
  product-type phrases are the most arbitrary part of any labelling, and this shows how much of the strict
  gap is boundaries rather than missed entities.

Precision, recall and F1 are micro-averaged per type and over all types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.extract.base import Mention
from kg.extract.normalise import canonical_key
from kg.extract.schema import EntityType, parse_type

Key = tuple[EntityType, str]


@dataclass(frozen=True)
class GoldItem:
    id: str
    source: str
    split: str
    text: str
    entities: frozenset[Key]


def load_gold(path: Path) -> list[GoldItem]:
    """The gold set: one JSON object per line with ``id``, ``source``, ``split``, ``text`` and ``entities``
    (``[{"type", "text"}]``, each text a substring of ``text``)."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        keys = set()
        for entity in row["entities"]:
            entity_type = parse_type(entity["type"])
            if entity_type is None or entity["text"] not in row["text"]:
                raise ValueError(f"{path}:{n}: bad gold entity {entity} for {row['text']!r}")
            keys.add((entity_type, canonical_key(entity_type, entity["text"])))
        items.append(GoldItem(row["id"], row["source"], row.get("split", "test"), row["text"], frozenset(keys)))
    return items


def keys_of(mentions: Iterable[Mention]) -> frozenset[Key]:
    return frozenset((m.type, k) for m in mentions if (k := canonical_key(m.type, m.text)))


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def scores(self) -> dict[str, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": self.tp, "fp": self.fp,
                "fn": self.fn}


def _contains(a: str, b: str) -> bool:
    wa, wb = a.split(), b.split()
    return all(w in wa for w in wb) or all(w in wb for w in wa)


def match(gold: frozenset[Key], predicted: frozenset[Key], *, lenient: bool) -> dict[EntityType, Counts]:
    """Per-type counts for one product."""
    out: dict[EntityType, Counts] = {}
    unmatched_gold = set(gold)
    unmatched_pred = []
    for key in sorted(predicted, key=lambda k: (k[0].value, k[1])):
        if key in unmatched_gold:
            unmatched_gold.discard(key)
            out.setdefault(key[0], Counts()).tp += 1
        else:
            unmatched_pred.append(key)
    for entity_type, name in unmatched_pred:
        partner = next((g for g in sorted(unmatched_gold, key=lambda k: k[1])
                        if lenient and g[0] is entity_type and _contains(g[1], name)), None)
        counts = out.setdefault(entity_type, Counts())
        if partner is None:
            counts.fp += 1
        else:
            unmatched_gold.discard(partner)
            counts.tp += 1
    for entity_type, _ in unmatched_gold:
        out.setdefault(entity_type, Counts()).fn += 1
    return out


@dataclass
class Report:
    per_type: dict[str, dict[str, float]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)


def score(gold: Sequence[GoldItem], predicted: Mapping[str, frozenset[Key]], *, lenient: bool = False) -> Report:
    """Micro P/R/F1 per type and overall; ``predicted`` maps gold item id -> predicted keys."""
    totals: dict[EntityType, Counts] = {}
    for item in gold:
        for entity_type, counts in match(item.entities, predicted.get(item.id, frozenset()), lenient=lenient).items():
            totals.setdefault(entity_type, Counts()).add(counts)
    overall = Counts()
    for counts in totals.values():
        overall.add(counts)
    return Report({t.value: totals[t].scores() for t in EntityType if t in totals}, overall.scores())


def report_dict(report: Report) -> dict[str, Any]:
    return {"per_type": report.per_type, "overall": report.overall}
