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
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from api.errors import ApiError
from api.serving.features import FEATURES, kept_counts
from api.serving.index import ServingIndex
from api.serving.query_encoder import QueryEncoder
from api.serving.ranker import Ranker, fallback_ranker, save_ranker, tuned_settings
from api.serving.search import candidate_features, final_order, free_word_cover, retrieve

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


#: Lambdarank's gain per grade 0..3: the ESCI gains the search benchmark's nDCG uses (Irrelevant 0, Complement
#: 0.01, Substitute 0.1, Exact 1, x100), not LightGBM's default ``2^grade - 1`` (which would trade an Exact for
#: two Substitutes where the benchmark trades one for ten).
LABEL_GAIN = (0.0, 1.0, 10.0, 100.0)
#: The LightGBM settings of ``cartograph search-ranker train`` (bench/search_ranker.py chooses among a few by
#: cross-validation on the judged dev queries and saves the one it chose in meta.json).
DEFAULT_PARAMS: dict[str, Any] = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                                  "min_child_samples": 5}


@dataclass
class Groups:
    """Queries' candidates one after the other: features, grades and tiers (constraints kept) per row."""

    features: np.ndarray
    grades: np.ndarray
    tiers: np.ndarray
    sizes: list[int]
    queries: list[str]
    unretrieved: int = 0

    @staticmethod
    def of(query: str, found: Candidates, graded: dict[str, int]) -> Groups:
        """One query's group: ``found`` graded by ``graded`` (product id -> grade; unlabelled: 0)."""
        return Groups(found.features, np.array([graded.get(p, 0) for p in found.ids], dtype=np.int32),
                      found.tiers, [len(found.ids)] if found.ids else [], [query] if found.ids else [])

    @staticmethod
    def concat(parts: Sequence[Groups]) -> Groups:
        """One training set of several (e.g. one per catalog: the features are catalog-independent)."""
        parts = [p for p in parts if p.sizes]
        if not parts:
            return Groups(np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.int32), np.zeros(0, np.int64),
                          [], [])
        return Groups(np.concatenate([p.features for p in parts]), np.concatenate([p.grades for p in parts]),
                      np.concatenate([p.tiers for p in parts]), [n for p in parts for n in p.sizes],
                      [q for p in parts for q in p.queries], sum(p.unretrieved for p in parts))

    def subset(self, keep: Sequence[int]) -> Groups:
        """The groups numbered ``keep`` (for cross-validation folds)."""
        starts = np.concatenate([[0], np.cumsum(self.sizes)])
        rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in keep]) if len(keep) else \
            np.zeros(0, np.int64)
        return Groups(self.features[rows], self.grades[rows], self.tiers[rows], [self.sizes[g] for g in keep],
                      [self.queries[g] for g in keep])


@dataclass
class Candidates:
    """What the API ranks for one query (before its no-match decision): product ids, their features and the
    number of the query's rank constraints each keeps (the tier the final order sorts by first)."""

    ids: list[str]
    features: np.ndarray
    tiers: np.ndarray
    word_cover: np.ndarray
    """The share of the query's words no constraint said that each holds (personalisation's groups)."""


def query_candidates(index: ServingIndex, encoder: QueryEncoder | None, query: str) -> Candidates:
    """The candidates of ``query``, retrieved and featurised exactly as :func:`api.serving.search.search` does."""
    c = index.catalog
    u = index.parser.parse(query)
    mask = c.active & u.filter_mask if u.filter_mask is not None else c.active.copy()
    r = retrieve(index, u, mask, encoder)
    cand = r.candidates()
    if not len(cand):
        return Candidates([], np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.int64), np.ones(0))
    return Candidates([c.product_ids[i] for i in cand.tolist()], candidate_features(index, u, r, cand),
                      kept_counts(u, cand), free_word_cover(index, u, cand))


def build_groups(index: ServingIndex, encoder: QueryEncoder | None, labels: Sequence[Label]) -> Groups:
    """One group of candidates per labelled query, with the serving features and the labels' grades."""
    by_query: dict[str, dict[str, int]] = {}
    for query, pid, grade in labels:
        by_query.setdefault(query, {})[pid] = max(grade, by_query.get(query, {}).get(pid, 0))
    groups = []
    unretrieved = 0
    for query, graded in by_query.items():
        found = query_candidates(index, encoder, query)
        groups.append(Groups.of(query, found, graded))
        unretrieved += sum(1 for p, g in graded.items() if g > 0 and p not in set(found.ids))
    learnable = [g for g in groups if g.grades.any()]  # no relevant candidate: nothing to learn from
    return replace(Groups.concat(learnable), unretrieved=unretrieved)


def ndcg_at(scores: np.ndarray, groups: Groups, k: int = 10) -> float:
    """Mean nDCG@k over ``groups`` of the order the API serves (by tier, then ``scores``), with gains
    :data:`LABEL_GAIN`; groups with no positive grade are skipped."""
    gain = np.asarray(LABEL_GAIN)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    out, start = [], 0
    for n in groups.sizes:
        s, g, t = scores[start:start + n], groups.grades[start:start + n], groups.tiers[start:start + n]
        start += n
        ideal = gain[np.sort(g)[::-1][:k]]
        idcg = float(ideal @ discount[:len(ideal)])
        if idcg <= 0:
            continue
        order, _ = final_order(s, t, np.arange(n), None, 0.0)
        got = gain[g[order][:k]]
        out.append(float(got @ discount[:len(got)]) / idcg)
    return float(np.mean(out)) if out else 0.0


def _evaluate(ranker: Ranker, groups: Groups) -> float:
    return ndcg_at(ranker.score(groups.features), groups) if groups.sizes else 0.0


def fit_booster(groups: Groups, params: dict[str, Any] | None = None, *, seed: int = 0) -> Any:
    """A LightGBM lambdarank booster fit on ``groups`` (nDCG gains :data:`LABEL_GAIN`)."""
    import lightgbm

    model = lightgbm.LGBMRanker(objective="lambdarank", label_gain=list(LABEL_GAIN), random_state=seed,
                                n_jobs=1, verbose=-1, **{**DEFAULT_PARAMS, **(params or {})})
    model.fit(groups.features, groups.grades, group=groups.sizes)
    return model.booster_


def cross_validate(groups: Groups, params: dict[str, Any], *, folds: int = 5, seed: int = 0
                   ) -> tuple[float, np.ndarray]:
    """(mean nDCG@10, out-of-fold score per row) of ``params`` over ``folds`` query-disjoint folds of
    ``groups``: each fold scored by a model fit on the others, so the scores are as good as on unseen queries."""
    from api.serving.ranker import LightGBMRanker

    if len(groups.sizes) < folds:
        raise LabelsError(f"{len(groups.sizes)} queries cannot be cut into {folds} folds")
    order = np.random.default_rng(seed).permutation(len(groups.sizes))
    starts = np.concatenate([[0], np.cumsum(groups.sizes)])
    oof = np.zeros(len(groups.grades))
    for f in range(folds):
        held = sorted(order[f::folds].tolist())
        rest = sorted(set(range(len(groups.sizes))) - set(held))
        ranker = LightGBMRanker(fit_booster(groups.subset(rest), params, seed=seed), "cv")
        rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in held])
        oof[rows] = ranker.score(groups.features[rows])
    return ndcg_at(oof, groups), oof


def train_ranker(index: ServingIndex, encoder: QueryEncoder | None, labels: Sequence[Label], artifacts_dir: Path,
                 *, valid: Sequence[Label] = (), rounds: int = 200, seed: int = 0) -> dict[str, Any]:
    """Fit lambdarank on ``labels``, save it beside the bundles, return the report (written to meta.json)."""
    from api.serving.ranker import LightGBMRanker

    train = build_groups(index, encoder, labels)
    if len(train.sizes) < 2:
        raise LabelsError(f"{len(train.sizes)} labelled queries have a relevant product among their candidates: "
                          "at least 2 are needed to train a ranker")
    params = {**DEFAULT_PARAMS, "n_estimators": rounds}
    booster = fit_booster(train, params, seed=seed)
    learned = LightGBMRanker(booster, "lambdarank")
    fallback = fallback_ranker()
    report: dict[str, Any] = {
        "trained": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "bundle_version": index.version,
        "params": params, "label_gain": list(LABEL_GAIN),
        "train_queries": len(train.sizes), "train_candidates": len(train.grades),
        "relevant_not_retrieved": train.unretrieved,
        "train_ndcg@10": {"lambdarank": _evaluate(learned, train), "weights": _evaluate(fallback, train)},
    }
    if valid:
        v = build_groups(index, encoder, valid)
        report["valid_queries"] = len(v.sizes)
        report["valid_ndcg@10"] = {"lambdarank": _evaluate(learned, v), "weights": _evaluate(fallback, v)}
    # The personal weight and no-match floor were chosen on judged queries with the ranker this one replaces;
    # labels alone cannot choose them, and the fallbacks (0.5, 0.55) cost judged nDCG@10 (docs/search.md).
    report.update(tuned_settings(artifacts_dir))
    save_ranker(artifacts_dir, booster.model_to_string(), report)
    return report
