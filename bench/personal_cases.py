"""Shoppers' own next products as search cases: the query is the product's type, the label is the product.

Shared by ``search_personal.py`` (the benchmark) and ``search_ranker.py`` (which tunes the personal weight on the
dev cases); the protocol is in ``search_personal.py``'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.serving.index import ServingIndex
from api.serving.text import normalize
from gnn.data import snapshot_from_store, split_snapshot, user_histories
from kg.config import Settings
from kg.extract.normalise import canonical_key
from kg.extract.schema import EntityType
from kg.store import open_store

#: History a user needs (distinct products before the target) to count as "with history".
MIN_HISTORY = 3


@dataclass
class Case:
    """One user's query: the target product, the query text, the user's history before it (serving indexes)."""

    user: str
    target: str
    query: str
    history: list[int]


def product_type(index: ServingIndex, title: str) -> str | None:
    """The head product type of ``title`` as the query parser's extraction reads it (canonical form)."""
    spans = [(s, e, t) for t, s, e, _, _ in index.parser.extractor.spans(title, is_title=True)
             if t is EntityType.PRODUCT_TYPE]
    if not spans:
        return None
    start, end, kind = max(spans, key=lambda s: s[1])  # a title's last type is its head ("... eyeliner pencil")
    return canonical_key(kind, title[start:end]) or normalize(title[start:end])


def cases(home: Path, index: ServingIndex, split: str, users: int, seed: int) -> tuple[list[Case], dict[str, int]]:
    """Up to ``users`` cases for ``split`` (dev: the valid target; test: the test target), drawn with ``seed``
    among users with at least :data:`MIN_HISTORY` products before the target and a target whose title names a
    product type; the counts of what was left out."""
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None)
    with open_store(settings, read_only=True) as store:
        snapshot = snapshot_from_store(store)
    s = split_snapshot(snapshot)
    phase, targets = ("valid", s.valid) if split == "dev" else ("test", s.test)
    histories = user_histories(snapshot, s, phase)
    pidx, ids = index.catalog.product_index, snapshot.ids["product"]
    order = np.random.default_rng(seed).permutation(targets.shape[1])
    out: list[Case] = []
    skipped = {"short_history": 0, "no_type_in_title": 0, "not_served": 0}
    for j in order:
        if len(out) >= users:
            break
        u, p = int(targets[0, j]), int(targets[1, j])
        history = [pidx[ids[int(i)]] for i in histories[u] if ids[int(i)] in pidx]
        if len(set(history)) < MIN_HISTORY:
            skipped["short_history"] += 1
            continue
        if ids[p] not in pidx:
            skipped["not_served"] += 1
            continue
        query = product_type(index, index.catalog.titles[pidx[ids[p]]])
        if query is None:
            skipped["no_type_in_title"] += 1
            continue
        out.append(Case(snapshot.ids["user"][u], ids[p], query, history))
    return out, skipped


def user_vector(index: ServingIndex, case: Case) -> np.ndarray | None:
    """The served model's user vector after ``case.history`` (a sequence model reads it; a model with trained
    user vectors gives its own, which trained on train items only)."""
    if index.history_encoder is not None:
        return index.history_encoder.encode(case.history)
    u = index.user_index.get(case.user)
    return None if u is None else index.user_emb[u]
