"""The search ranker: a LightGBM lambdarank model trained on judged queries (and feedback), or, until one is
trained, hand-set weights over the same features.

The trained ranker lives next to the model bundles, in ``<artifacts>/search-ranker/`` (``model.txt``, the
LightGBM booster; ``meta.json``, the feature names it was trained on, its configuration, how it scored, and
the two settings chosen with it on validation queries: the weight of the personal rank and the dense
similarity below which a query with no lexical or typed match answers nothing). So retraining the
recommendation model keeps it and a new ranker never needs a new bundle. A ranker whose feature names differ
from :data:`api.serving.features.FEATURES` (the code changed since it was trained) is not used: the
hand-set weights serve, and ``/ready`` notes why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from api.serving.features import FEATURES

log = logging.getLogger("cartograph.api")
RANKER_DIR = "search-ranker"
#: The hand-set fallback: the reciprocal-rank fusion of the three lists (as before the ranker existed),
#: with small nudges for titles that contain the query's words and for popular products.
FALLBACK_WEIGHTS: dict[str, float] = {"bm25_rrf": 1.0, "dense_rrf": 1.0, "graph_rrf": 1.0, "title_cover": 0.01,
                                      "popularity": 0.002}


#: The hand-set ranker's personal weight (against its own rank's 1), as before the weight was tuned.
FALLBACK_PERSONAL_WEIGHT = 0.5
#: A query with no product holding all its words and none keeping all its typed constraints matches nothing
#: when no product's dense similarity reaches this (the hand-set default; a trained ranker carries the one
#: chosen on its validation queries). Made-up words reach ~0.45 with MiniLM, other shops' goods ~0.5.
FALLBACK_NO_MATCH_SIMILARITY = 0.55


class Ranker(Protocol):
    name: str
    personal_weight: float
    """Weight of the personal rank against this ranker's in the final blend (0: never personalised)."""
    no_match_similarity: float
    """See :data:`FALLBACK_NO_MATCH_SIMILARITY`."""
    personal_tie_band: float | None
    """How close, in standard deviations of a query's ranker scores, two products must score for the user's
    order to decide between them (:func:`api.serving.search.final_order`; None: no band)."""
    personal_gate: float | None
    """The least :func:`api.serving.search.user_interest` for which a query is personalised (None: always)."""

    def score(self, features: np.ndarray) -> np.ndarray: ...


class WeightedRanker:
    """A linear score with fixed weights per feature name."""

    def __init__(self, weights: dict[str, float], name: str = "weights", *,
                 personal_weight: float = FALLBACK_PERSONAL_WEIGHT,
                 no_match_similarity: float = FALLBACK_NO_MATCH_SIMILARITY,
                 personal_tie_band: float | None = None, personal_gate: float | None = None) -> None:
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown ranking features: {sorted(unknown)}")
        self.name = name
        self.personal_weight = personal_weight
        self.no_match_similarity = no_match_similarity
        self.personal_tie_band = personal_tie_band
        self.personal_gate = personal_gate
        self._w = np.array([weights.get(f, 0.0) for f in FEATURES], dtype=np.float64)

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ self._w, dtype=np.float64)


class LightGBMRanker:
    """A trained LightGBM booster over :data:`FEATURES`."""

    def __init__(self, booster: Any, name: str, *, personal_weight: float = FALLBACK_PERSONAL_WEIGHT,
                 no_match_similarity: float = FALLBACK_NO_MATCH_SIMILARITY,
                 personal_tie_band: float | None = None, personal_gate: float | None = None) -> None:
        self.booster = booster
        self.name = name
        self.personal_weight = personal_weight
        self.no_match_similarity = no_match_similarity
        self.personal_tie_band = personal_tie_band
        self.personal_gate = personal_gate

    def score(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)


def fallback_ranker() -> WeightedRanker:
    return WeightedRanker(FALLBACK_WEIGHTS)


def ranker_dir(artifacts_dir: Path) -> Path:
    return artifacts_dir / RANKER_DIR


def load_ranker(artifacts_dir: Path) -> tuple[Ranker, str | None]:
    """(the trained ranker, or the fallback; a note saying why the fallback serves, or None)."""
    folder = ranker_dir(artifacts_dir)
    if not (folder / "model.txt").is_file():
        return fallback_ranker(), None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if tuple(meta.get("features", ())) != FEATURES:
            return fallback_ranker(), f"search ranker in {folder} was trained on other features: not used"
        import lightgbm

        booster = lightgbm.Booster(model_file=str(folder / "model.txt"))
        return LightGBMRanker(booster, f"lambdarank@{meta.get('trained', '?')}",
                              personal_weight=_setting(meta, "personal_weight", FALLBACK_PERSONAL_WEIGHT),
                              no_match_similarity=_setting(meta, "no_match_similarity",
                                                           FALLBACK_NO_MATCH_SIMILARITY),
                              personal_tie_band=_optional_setting(meta, "personal_tie_band"),
                              personal_gate=_optional_setting(meta, "personal_gate")), None
    except (OSError, ValueError, KeyError, TypeError) as e:
        return fallback_ranker(), f"search ranker in {folder} unreadable ({e}): hand-set weights serve"


#: Settings chosen with a ranker on judged validation queries (``bench/search_ranker.py``), not by the booster.
TUNED_SETTINGS = ("personal_weight", "no_match_similarity", "personal_tie_band", "personal_gate")
#: Those of :data:`TUNED_SETTINGS` whose ``null`` means "none" (no tie band, no gate) rather than a broken file.
OPTIONAL_SETTINGS = ("personal_tie_band", "personal_gate")


def tuned_settings(artifacts_dir: Path) -> dict[str, Any]:
    """The :data:`TUNED_SETTINGS` the saved ranker carries (``{}`` when none is saved or it is unreadable), with
    when that ranker was trained: a ranker retrained on new labels keeps them rather than falling back."""
    try:
        meta = json.loads((ranker_dir(artifacts_dir) / "meta.json").read_text(encoding="utf-8"))
        kept = {key: _optional_setting(meta, key) if key in OPTIONAL_SETTINGS else _setting(meta, key, 0.0)
                for key in TUNED_SETTINGS if key in meta}
    except (OSError, ValueError, TypeError):
        return {}
    return {**kept, "tuned_with": meta.get("tuned_with", meta.get("trained", "?"))} if kept else {}


def _setting(meta: dict[str, Any], key: str, default: float) -> float:
    """A number ``meta`` carries (the default when absent: a ranker trained before the setting existed)."""
    value = meta.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 10:
        raise ValueError(f"{key} must be a number in 0..10, not {value!r}")
    return float(value)


def _optional_setting(meta: dict[str, Any], key: str) -> float | None:
    """:func:`_setting` where ``null`` (or absence) means "none"."""
    return None if meta.get(key) is None else _setting(meta, key, 0.0)


def save_ranker(artifacts_dir: Path, model_text: str, meta: dict[str, Any]) -> Path:
    """Write the ranker beside the bundles, replacing the old one in one rename (a crash leaves the old one)."""
    folder = ranker_dir(artifacts_dir)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "model.txt").write_text(model_text, encoding="utf-8")
    (tmp / "meta.json").write_text(json.dumps({**meta, "features": list(FEATURES)}, indent=2), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder
