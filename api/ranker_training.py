"""Training the search ranker: LightGBM lambdarank over the serving features, from judged labels and feedback.

Labels are ``(query, product_id, grade)``: a JSONL file of ``{"query", "product_id", "grade"}`` objects (the
grade 0-3, or the Shopping Queries letters E/S/C/I for Exact 3, Substitute 2, Complement 1, Irrelevant 0), plus,
optionally, the grades read from the search feedback log (:func:`api.feedback.feedback_labels`). Each query is
searched exactly as the API searches it (same understanding, same candidate lists, same features); candidates
without a label are grade 0, labelled products that no list retrieves cannot be ranked and are counted. The
model is written beside the bundles (:func:`api.serving.ranker.save_ranker`) with its nDCG@10 on the training
queries, and on validation labels when given, beside the hand-set weights' on the same queries.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.errors import ApiError
from api.serving.features import feature_matrix
from api.serving.index import ServingIndex
from api.serving.query_encoder import QueryEncoder
from api.serving.ranker import Ranker, fallback_ranker, save_ranker
from api.serving.search import retrieve
from api.serving.text import terms

Label = tuple[str, str, int]
LETTER_GRADES = {"e": 3, "s": 2, "c": 1, "i": 0, "exact": 3, "substitute": 2, "complement": 1, "irrelevant": 0}


class LabelsError(ApiError):
    """A labels file that cannot be read (the message names the line)."""


def read_labels(path: Path) -> list[Label]:
    """``(query, product_id, grade)`` from a JSONL labels file (see the module docstring)."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LabelsError(f"cannot read labels {path}: {e}") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            grade = row["grade"]
            grade = LETTER_GRADES[grade.lower()] if isinstance(grade, str) else int(grade)
            if not 0 <= grade <= 3:
                raise ValueError(f"grade {grade} outside 0..3")
            out.append((str(row["query"]), str(row["product_id"]), grade))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError) as e:
            raise LabelsError(f"{path}:{n}: not a label ({e}); expected "
                              '{"query": ..., "product_id": ..., "grade": 0-3 or E/S/C/I}') from e
    return out


@dataclass
class Groups:
    features: np.ndarray
    grades: np.ndarray
    sizes: list[int]
    queries: list[str]
    unretrieved: int


def build_groups(index: ServingIndex, encoder: QueryEncoder | None, labels: Sequence[Label]) -> Groups:
    """One group of candidates per labelled query, with the serving features and the labels' grades."""
    by_query: dict[str, dict[str, int]] = {}
    for query, pid, grade in labels:
        by_query.setdefault(query, {})[pid] = max(grade, by_query.get(query, {}).get(pid, 0))
    feats, grades, sizes, queries, unretrieved = [], [], [], [], 0
    c = index.catalog
    for query, graded in by_query.items():
        u = index.parser.parse(query)
        mask = c.active & u.filter_mask if u.filter_mask is not None else c.active.copy()
        r = retrieve(index, u, mask, encoder)
        cand = r.candidates()
        ids = [c.product_ids[i] for i in cand.tolist()]
        unretrieved += sum(1 for p, g in graded.items() if g > 0 and p not in set(ids))
        if not len(cand) or not any(graded.get(p, 0) > 0 for p in ids):
            continue  # nothing to learn from this query's candidates
        feats.append(feature_matrix(u, r, cand, index.parser.title_terms, c.popularity, terms(u.search_text)))
        grades.append(np.array([graded.get(p, 0) for p in ids], dtype=np.int32))
        sizes.append(len(cand))
        queries.append(query)
    if not feats:
        return Groups(np.zeros((0, 0), np.float32), np.zeros(0, np.int32), [], [], unretrieved)
    return Groups(np.concatenate(feats), np.concatenate(grades), sizes, queries, unretrieved)


def ndcg_at(scores: np.ndarray, grades: np.ndarray, sizes: Sequence[int], k: int = 10) -> float:
    """Mean nDCG@k over groups (gain ``2^grade - 1``); groups with no positive grade are skipped."""
    out, start = [], 0
    for n in sizes:
        s, g = scores[start:start + n], grades[start:start + n]
        start += n
        ideal = np.sort(g)[::-1][:k]
        idcg = sum((2.0 ** x - 1) / math.log2(i + 2) for i, x in enumerate(ideal))
        if idcg <= 0:
            continue
        got = g[np.argsort(-s, kind="stable")][:k]
        out.append(sum((2.0 ** x - 1) / math.log2(i + 2) for i, x in enumerate(got)) / idcg)
    return float(np.mean(out)) if out else 0.0


def _evaluate(ranker: Ranker, groups: Groups) -> float:
    return ndcg_at(ranker.score(groups.features), groups.grades, groups.sizes) if groups.sizes else 0.0


def train_ranker(index: ServingIndex, encoder: QueryEncoder | None, labels: Sequence[Label], artifacts_dir: Path,
                 *, valid: Sequence[Label] = (), rounds: int = 200, seed: int = 0) -> dict[str, Any]:
    """Fit lambdarank on ``labels``, save it beside the bundles, return the report (written to meta.json)."""
    import lightgbm

    from api.serving.ranker import LightGBMRanker

    train = build_groups(index, encoder, labels)
    if len(train.sizes) < 2:
        raise LabelsError(f"{len(train.sizes)} labelled queries have a relevant product among their candidates: "
                          "at least 2 are needed to train a ranker")
    model = lightgbm.LGBMRanker(objective="lambdarank", n_estimators=rounds, learning_rate=0.05, num_leaves=15,
                                min_child_samples=5, random_state=seed, n_jobs=1, verbose=-1)
    model.fit(train.features, train.grades, group=train.sizes)
    learned = LightGBMRanker(model.booster_, "lambdarank")
    fallback = fallback_ranker()
    report: dict[str, Any] = {
        "trained": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "bundle_version": index.version,
        "train_queries": len(train.sizes), "train_candidates": len(train.grades),
        "relevant_not_retrieved": train.unretrieved,
        "train_ndcg@10": {"lambdarank": _evaluate(learned, train), "weights": _evaluate(fallback, train)},
    }
    if valid:
        v = build_groups(index, encoder, valid)
        report["valid_queries"] = len(v.sizes)
        report["valid_ndcg@10"] = {"lambdarank": _evaluate(learned, v), "weights": _evaluate(fallback, v)}
    save_ranker(artifacts_dir, model.booster_.model_to_string(), report)
    return report
