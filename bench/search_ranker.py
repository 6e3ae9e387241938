"""Train the search ranker on the DEV split of the judged queries; the API serves it as the final stage.

    python bench/search_ranker.py --data-dir ../shared/data          # both catalogs, then bench/search.py

On the catalog homes ``bench/search.py`` prepares (``prepare_home``), for the dev queries only (the script
refuses a labelled query of another split):

1. each query (and a misspelled query's corrected form, with the same labels) is retrieved and featurised by
   the API's own serving index (``api.ranker_training.query_candidates``), graded from ``qrels.jsonl``
   (E 3, S 2, C 1, I 0; unjudged 0); the groups of both catalogs make one training set;
2. LightGBM lambdarank settings are chosen among :data:`GRID` by 5-fold query-disjoint cross-validation on dev,
   and the chosen ones are fit on all dev groups;
3. the no-match similarity is chosen on the dev queries (most no-match queries answered empty, fewest real
   queries lost), and the personal weight and tie band on two dev signals: the judged
   dev queries' benchmark users, ranked with the out-of-fold scores of step 2 (scores the ranker gives
   queries it was not fit on, as at test time), whose labels do not depend on the user and so can only show
   a weight doing harm; and ``--shoppers`` dev shoppers per catalog searching for the type of their own next
   product (``personal_cases.py``, their valid target, the label their own), ranked with the fitted ranker:
   among the (weight, tie band, interest gate) settings that lower no judged dev query
   (:data:`PERSONAL_TOLERANCE`), the one best for the shoppers, kept only when its gain over none exceeds one
   standard error of the per-shopper gains (:func:`choose_personalisation`);
4. the model, its feature names, settings, the two choices and the dev figures are saved beside every catalog's
   bundles (``<home>/artifacts/search-ranker/``), where the API loads it; the dev report goes to
   ``bench/results/search_ranker.json``.

Test figures come from ``bench/search.py`` afterwards, never from here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402
from personal_cases import cases, user_vector  # noqa: E402
from search_catalog import Catalog, open_catalog, prepare_home  # noqa: E402
from search_eval import GRADES, per_query, read_jsonl  # noqa: E402

from api.ranker_training import (  # noqa: E402
    LABEL_GAIN,
    Candidates,
    Groups,
    cross_validate,
    fit_booster,
    query_candidates,
)
from api.serving.features import FEATURES  # noqa: E402
from api.serving.ranker import fallback_ranker, save_ranker  # noqa: E402
from api.serving.recommend import user_context  # noqa: E402
from api.serving.search import final_order, matches_nothing, meaning_similarity, user_interest  # noqa: E402

JUDGED = HERE / "search"
CATALOGS = ("amazon-beauty", "amazon-office")
#: LightGBM settings tried (learning rate 0.05 throughout); few, so that cross-validation on ~110 dev queries
#: chooses among real alternatives rather than fitting the folds.
GRID: tuple[dict[str, Any], ...] = tuple(
    {"n_estimators": n, "learning_rate": 0.05, "num_leaves": leaves, "min_child_samples": child}
    for n in (100, 300) for leaves in (7, 15) for child in (5, 20))
PERSONAL_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
#: Tie bands tried (``final_order``'s ``tie_band``, in standard deviations of a query's ranker scores; None:
#: the user reorders whole groups). The middle of the grid is where the ranker's own gaps lie: on dev the median
#: gap between neighbours of a query's top 20 is 0.05 standard deviations, the 90th percentile 0.23.
PERSONAL_TIE_BANDS: tuple[float | None, ...] = (None, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05)
#: Interest gates tried (``search``'s ``personal_gate``: the least :func:`user_interest`, a z-score of the user's
#: model scores over the query's candidates against the catalog, for which a query is personalised; None: always).
PERSONAL_GATES: tuple[float | None, ...] = (None, 0.5, 1.0, 1.5, 2.0)
#: Every (weight, tie band, gate) tried; weight 0 once (no band or gate can change an unpersonalised order).
PERSONAL_SETTINGS: tuple[tuple[float, float | None, float | None], ...] = (
    (0.0, None, None), *((w, band, gate) for gate in PERSONAL_GATES for band in PERSONAL_TIE_BANDS
                         for w in PERSONAL_WEIGHTS if w > 0))
#: The judged dev nDCG@10 personalisation may cost **each** dev query (its mean over the query's benchmark users),
#: as a share of that query's unpersonalised figure. 0: the judged queries' labels do not depend on who asks,
#: so personalising may only reorder what they cannot tell apart (the benchmark's target: it never lowers judged
#: nDCG@10), on every query, not only on the mean, whose differences among the settings that cost nothing were
#: smaller than the noise of the features between runs (0.0001 against 0.002). It was a share of the mean: 0.01
#: first, a stated price like the recommender's cold gain (``TrainConfig.cold_gain_tolerance``): it served weight
#: 0.1 with no band, +23% for the dev shoppers and 0.6% of judged nDCG@10 (test 0.994x); then 0 of the mean
#: (test 0.9988x). A rule of one standard error of the per-query differences was used before that; it flipped
#: between 0.1 and 0 on a 0.001 change of the judged figure.
PERSONAL_TOLERANCE = 0.0
#: Shoppers per catalog whose own next product (their valid target) tunes the personal weight.
PERSONAL_CASES = 500
FOLDS = 5
K = 100


class SplitError(ValueError):
    """A label of a query outside the dev split reached training."""


def dev_labels(queries: list[dict[str, Any]], qrels: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{query_id: {product_id: grade}}`` for the given queries, which must all be dev queries."""
    wrong = [q["id"] for q in queries if q.get("split") != "dev"]
    if wrong:
        raise SplitError(f"the ranker trains on dev queries only; not dev: {', '.join(wrong[:5])}")
    ids = {q["id"] for q in queries}
    out: dict[str, dict[str, int]] = {q: {} for q in ids}
    for row in qrels:
        if row["query_id"] in ids:
            out[row["query_id"]][row["product_id"]] = GRADES[row["label"]]
    return out


@dataclass
class DevQuery:
    """One dev query as the API ranks it, with what tuning needs: grades, and each benchmark user's affinity and
    interest (:func:`user_interest`)."""

    query: dict[str, Any]
    text: str
    found: Candidates
    graded: dict[str, int]
    affinities: list[np.ndarray] = field(default_factory=list)
    interests: list[float] = field(default_factory=list)

    @property
    def has_exact(self) -> bool:
        return any(g == GRADES["E"] for g in self.graded.values())


def collect(cat: Catalog, queries: list[dict[str, Any]], labels: dict[str, dict[str, int]]) -> list[DevQuery]:
    """Every dev query of ``cat`` (and the corrected form of a misspelled one) through the API's index."""
    state = cat.client.app.state.service
    index, encoder = state.index, state.encoder
    out = []
    for q in queries:
        users = cat.users_for(q["id"])
        vectors = [v for u in users if (v := user_context(index, u, ()).vector) is not None]
        for text in filter(None, (q["text"], q.get("corrected"))):
            found = query_candidates(index, encoder, text)
            rows = np.array([index.catalog.product_index[p] for p in found.ids], dtype=np.int64)
            aff = [np.where(index.has_embedding[rows], index.product_emb[rows] @ v, -np.inf) for v in vectors]
            out.append(DevQuery(q, text, found, labels[q["id"]], aff,
                                [user_interest(index, rows, v, a) for v, a in zip(vectors, aff, strict=True)]))
    return out


@dataclass
class ShopperCase:
    """One shopper's dev case (``personal_cases``): the type query's candidates, the target, the affinity and
    interest."""

    found: Candidates
    target: str
    affinity: np.ndarray | None
    interest: float = 0.0


def collect_shoppers(cat: Catalog, home: Path, users: int = PERSONAL_CASES) -> list[ShopperCase]:
    """The dev cases of :func:`personal_cases.cases` (each user's valid target) through the API's index."""
    state = cat.client.app.state.service
    index, encoder = state.index, state.encoder
    out = []
    for case in cases(home, index, "dev", users, seed=0)[0]:
        found = query_candidates(index, encoder, case.query)
        vector = user_vector(index, case)
        rows = np.array([index.catalog.product_index[p] for p in found.ids], dtype=np.int64)
        aff = None if vector is None else np.where(index.has_embedding[rows], index.product_emb[rows] @ vector,
                                                    -np.inf)
        out.append(ShopperCase(found, case.target, aff,
                               0.0 if vector is None else user_interest(index, rows, vector, aff)))
    return out


def setting_key(weight: float, band: float | None, gate: float | None = None) -> str:
    """How a (weight, tie band, gate) setting is named in the reports: ``"0.1"`` with no band and no gate,
    ``"0.1@0.2"`` within band 0.2, ``"0.1@0.2>1.0"`` for users whose interest is at least 1.0."""
    return str(weight) + ("" if band is None else f"@{band}") + ("" if gate is None else f">{gate}")


def gated(affinity: np.ndarray | None, interest: float, gate: float | None) -> np.ndarray | None:
    """``affinity``, or None (not personalised) where the user's ``interest`` is under the ``gate``, as ``search``."""
    return affinity if gate is None or interest >= gate else None


def shopper_ndcg(shoppers: list[ShopperCase], score: Any, weight: float, band: float | None = None,
                 gate: float | None = None) -> np.ndarray:
    """Per case, the nDCG@10 of the shopper's own target in the served order at ``weight``, tie ``band`` and
    interest ``gate``."""
    out = np.zeros(len(shoppers))
    for n, s in enumerate(shoppers):
        if not s.found.ids:
            continue
        order, _ = final_order(score(s.found.features), s.found.tiers, np.arange(len(s.found.ids)),
                               gated(s.affinity, s.interest, gate), weight, s.found.word_cover, tie_band=band)
        ranking = [s.found.ids[j] for j in order[:K]]
        out[n] = per_query({"q": {s.target: GRADES["E"]}}, {"q": ranking})["q"]["ndcg@10"]
    return out


def served(d: DevQuery, scores: np.ndarray, *, no_match_similarity: float, affinity: np.ndarray | None = None,
           weight: float = 0.0, band: float | None = None) -> list[str]:
    """The product ids the API answers for ``d`` given the ranker's ``scores`` (the same final stage)."""
    if not d.found.ids or matches_nothing(d.found.features, no_match_similarity):
        return []
    order, _ = final_order(scores, d.found.tiers, np.arange(len(d.found.ids)), affinity, weight, d.found.word_cover,
                           tie_band=band)
    return [d.found.ids[j] for j in order[:K]]


def bench_ndcg(dev: list[DevQuery], rankings: list[list[str]]) -> float:
    """Mean nDCG@10 (the benchmark's ESCI gains) over the typed queries that have an Exact product."""
    scores = _query_ndcg(dev, rankings)
    return float(np.mean(list(scores.values()))) if scores else 0.0


def bench_p5(dev: list[DevQuery], rankings: list[list[str]]) -> float:
    """Mean precision@5 of Exact products over the same queries as :func:`bench_ndcg`."""
    scores = _query_metric(dev, rankings, "p@5")
    return float(np.mean(list(scores.values()))) if scores else 0.0


def choose_no_match_similarity(dev: list[DevQuery]) -> tuple[float, dict[str, Any]]:
    """The similarity floor that answers the most dev no-match queries empty while emptying the fewest dev
    queries that have an Exact product (each counts one): the middle of the widest interval of floors that do
    best (among the queries no word or constraint matches, the floors between two of their similarities by
    meaning alone, :func:`meaning_similarity`, give the same answers)."""
    typed = [d for d in dev if d.text == d.query["text"] and d.found.ids]

    def top_dense(d: DevQuery) -> float:
        return meaning_similarity(d.found.features)

    cuttable = [d for d in typed if matches_nothing(d.found.features, 1.01)]  # no word or constraint match
    points = sorted({0.0, 1.0, *(top_dense(d) for d in cuttable)})
    gains = []
    for lo, hi in itertools.pairwise(points):
        caught = sum(1 for d in cuttable if d.query["kind"] == "no-match" and top_dense(d) <= lo)
        lost = sum(1 for d in cuttable if d.has_exact and top_dense(d) <= lo)
        gains.append((caught - lost, lo, hi))
    top = max(g for g, _, _ in gains)
    lo, hi = max(((lo, hi) for g, lo, hi in gains if g == top), key=lambda x: x[1] - x[0])
    theta = (lo + hi) / 2  # the middle of the widest best interval: the largest margin on either side
    detail = {"no_match_queries": sum(1 for d in typed if d.query["kind"] == "no-match"),
              "no_match_answered_empty": sum(1 for d in typed if d.query["kind"] == "no-match"
                                             and matches_nothing(d.found.features, theta)),
              "queries_with_exact_answered_empty": sum(1 for d in typed if d.has_exact
                                                       and matches_nothing(d.found.features, theta))}
    return round(theta, 4), detail


def _query_ndcg(dev: list[DevQuery], rankings: list[list[str]]) -> dict[str, float]:
    """nDCG@10 of each typed query with an Exact product (the queries :func:`bench_ndcg` averages)."""
    return _query_metric(dev, rankings, "ndcg@10")


def _query_metric(dev: list[DevQuery], rankings: list[list[str]], metric: str) -> dict[str, float]:
    """``metric`` (a :func:`search_eval.per_query` name) of each typed query with an Exact product."""
    picked = [(d, r) for d, r in zip(dev, rankings, strict=True) if d.text == d.query["text"] and d.has_exact]
    qrels = {d.query["id"]: d.graded for d, _ in picked}
    return {q: m.get(metric, 0.0) for q, m in per_query(qrels, {d.query["id"]: r for d, r in picked}).items()}


def _one_se_gain(gains: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) of per-query or per-case gains."""
    noise = float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else 0.0
    return float(gains.mean()) if len(gains) else 0.0, noise


def choose_personalisation(dev: list[DevQuery], oof: dict[int, np.ndarray], theta: float,
                           shoppers: np.ndarray | None = None
                           ) -> tuple[tuple[float, float | None, float | None], dict[str, float]]:
    """The (personal weight, tie band, interest gate) to serve, chosen on dev among :data:`PERSONAL_SETTINGS`, and
    the mean judged dev nDCG@10 of every setting tried (named by :func:`setting_key`).

    Without ``shoppers``: the setting whose served order has the best mean dev nDCG@10 over the judged queries'
    benchmark users (the smaller weight, then the narrower band, on a tie), kept only where its gain over no
    personalisation exceeds one standard error of the per-query gains (the one-standard-error rule): those
    labels do not depend on the user, so they can show personalisation lowering a ranking but hardly ever
    raising one.

    With ``shoppers`` (``[settings, cases]``: each dev shopper's nDCG@10 of their own next product,
    :func:`shopper_ndcg`, in the order of :data:`PERSONAL_SETTINGS`), the labels that are the user's own decide:
    among the settings that lower no judged dev query's nDCG@10 by more than :data:`PERSONAL_TOLERANCE` of its
    unpersonalised figure, the one with the best shopper nDCG@10 (the same tie order), kept only where its gain
    over none exceeds one standard error of the per-case gains."""
    by_setting, by_query = {}, {}
    users = max((len(d.affinities) for d in dev), default=0)
    for w, band, gate in PERSONAL_SETTINGS:
        per_user = []
        for j in range(users):
            rows = [(d, served(d, oof[i], no_match_similarity=theta, weight=w, band=band,
                               affinity=gated(d.affinities[j], d.interests[j], gate)))
                    for i, d in enumerate(dev) if j < len(d.affinities)]
            per_user.append(_query_ndcg([d for d, _ in rows], [r for _, r in rows]))
        queries = sorted({q for scores in per_user for q in scores})
        by_query[w, band, gate] = np.array([np.mean([s[q] for s in per_user if q in s]) for q in queries]) if queries \
            else np.zeros(0)
        by_setting[w, band, gate] = float(np.mean([np.mean(list(s.values())) if s else 0.0 for s in per_user])) \
            if per_user else 0.0  # bench_ndcg per user, averaged
    figures = {setting_key(*x): round(v, 4) for x, v in by_setting.items()}
    none = PERSONAL_SETTINGS[0]

    def cautious(setting: tuple[float, float | None, float | None]) -> tuple[float, float, float]:
        """Larger for a smaller weight, then a narrower band, then a higher gate: what a tie prefers."""
        return -setting[0], -(np.inf if setting[1] is None else setting[1]), \
            (-np.inf if setting[2] is None else setting[2])

    if shoppers is not None and shoppers.shape[1]:
        own = dict(zip(PERSONAL_SETTINGS, shoppers, strict=True))
        floor = (1.0 - PERSONAL_TOLERANCE) * by_query[none] - 1e-9
        admissible = [x for x in PERSONAL_SETTINGS if bool(np.all(by_query[x] >= floor))]
        best = max(admissible, key=lambda x: (round(float(own[x].mean()), 6), *cautious(x)))
        gain, noise = _one_se_gain(own[best] - own[none])
        return (best if best == none or gain > noise else none), figures
    best = max(PERSONAL_SETTINGS, key=lambda x: (round(by_setting[x], 6), *cautious(x)))
    gain, noise = _one_se_gain(by_query[best] - by_query[none])
    return (best if best == none or gain > noise else none), figures


def train(dev: list[DevQuery], homes: dict[str, Path], out: Path, seed: int = 0,
          shoppers: list[ShopperCase] | None = None) -> dict[str, Any]:
    """Steps 2-4 of the module docstring; returns the dev report."""
    started = time.perf_counter()
    learnable = [i for i, d in enumerate(dev) if any(d.graded.get(p, 0) > 0 for p in d.found.ids)]
    groups = Groups.concat([Groups.of(dev[i].text, dev[i].found, dev[i].graded) for i in learnable])
    cv = []
    for params in GRID:
        score, scores = cross_validate(groups, params, folds=FOLDS, seed=seed)
        cv.append((score, params, scores))
        print(f"cv nDCG@10 {score:.4f}  {params}", flush=True)
    best_score, params, oof_rows = max(cv, key=lambda x: x[0])
    starts = np.concatenate([[0], np.cumsum(groups.sizes)])
    fallback = fallback_ranker()
    oof = {i: fallback.score(d.found.features) for i, d in enumerate(dev)}  # queries with nothing to learn
    oof.update({i: oof_rows[starts[g]:starts[g + 1]] for g, i in enumerate(learnable)})
    theta, no_match = choose_no_match_similarity(dev)
    booster = fit_booster(groups, params, seed=seed)
    # The shoppers' type queries are not dev queries: the ranker fit on every dev query scores them, as it will.
    scored = {id(s.found.features): booster.predict(s.found.features, num_threads=1)
              for s in shoppers or () if s.found.ids}  # once per shopper, not once per setting
    own = np.array([shopper_ndcg(shoppers, lambda f: scored[id(f)], w, band, gate)
                    for w, band, gate in PERSONAL_SETTINGS]) if shoppers else None
    (weight, band, gate), by_setting = choose_personalisation(dev, oof, theta, own)
    by_weights = [served(d, fallback.score(d.found.features), no_match_similarity=theta) for d in dev]
    by_lambdarank = [served(d, oof[i], no_match_similarity=theta) for i, d in enumerate(dev)]
    dev_figures = {"weights": bench_ndcg(dev, by_weights), "lambdarank_out_of_fold": bench_ndcg(dev, by_lambdarank)}
    dev_p5 = {"weights": bench_p5(dev, by_weights), "lambdarank_out_of_fold": bench_p5(dev, by_lambdarank)}
    report: dict[str, Any] = {
        "trained": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "trained_on": "bench/search dev split",
        "dev_queries": sorted({d.query["id"] for d in dev}), "groups": len(groups.sizes),
        "candidates": len(groups.grades), "params": params, "label_gain": list(LABEL_GAIN),
        "cv": [{"params": p, "ndcg@10": round(s, 4)} for s, p, _ in cv], "cv_best_ndcg@10": round(best_score, 4),
        "no_match_similarity": theta, "no_match_dev": no_match,
        "personal_weight": weight, "personal_tie_band": band, "personal_gate": gate,
        "personal_tolerance": PERSONAL_TOLERANCE,
        "personal_weight_dev_ndcg@10": by_setting,
        "personal_weight_shoppers_dev_ndcg@10": {} if own is None else
        {setting_key(*x): round(float(v.mean()), 4) for x, v in zip(PERSONAL_SETTINGS, own, strict=True)},
        "shopper_dev_cases": 0 if own is None else int(own.shape[1]),
        "dev_ndcg@10": {k: round(v, 4) for k, v in dev_figures.items()},
        "dev_p@5": {k: round(v, 4) for k, v in dev_p5.items()},
        "feature_importance_gain": dict(zip(FEATURES, (round(float(x), 1) for x in
                                                       booster.feature_importance("gain")), strict=True)),
        "seconds": round(time.perf_counter() - started, 1),
    }
    for home in homes.values():
        save_ranker(home / "artifacts", booster.model_to_string(), report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-search")
    ap.add_argument("--catalogs", nargs="+", default=list(CATALOGS))
    ap.add_argument("--homes", nargs="*", default=[], metavar="CATALOG=DIR")
    ap.add_argument("--queries", type=Path, default=JUDGED / "queries.jsonl")
    ap.add_argument("--qrels", type=Path, default=JUDGED / "qrels.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search_ranker.json")
    ap.add_argument("--shoppers", type=int, default=PERSONAL_CASES,
                    help="dev shoppers per catalog whose own next product tunes the personal weight "
                         "(personal_cases.py; 0: the judged queries alone)")
    args = ap.parse_args(argv)
    if args.shoppers < 0:
        ap.error("--shoppers must be 0 or more")

    homes = {c: args.work_dir / c for c in args.catalogs} | {c: Path(h) for c, h in
                                                            (x.split("=", 1) for x in args.homes)}
    queries = [q for q in read_jsonl(args.queries) if q["catalog"] in homes and q["split"] == "dev"]
    labels = dev_labels(queries, read_jsonl(args.qrels))
    dev: list[DevQuery] = []
    shoppers: list[ShopperCase] = []
    with ExitStack() as stack:
        for c, home in homes.items():
            if c in CATALOGS and not args.homes:
                prepare_home(home, args.data_dir / c)
            cat = stack.enter_context(open_catalog(c, home))
            dev += collect(cat, [q for q in queries if q["catalog"] == c], labels)
            shoppers += collect_shoppers(cat, home, args.shoppers) if args.shoppers else []
    report = train(dev, homes, args.out, shoppers=shoppers)
    print(json.dumps({k: report[k] for k in ("params", "cv_best_ndcg@10", "no_match_similarity", "no_match_dev",
                                             "personal_weight", "personal_tie_band", "personal_gate",
                                             "personal_weight_dev_ndcg@10",
                                             "personal_weight_shoppers_dev_ndcg@10", "dev_ndcg@10")},
                     indent=1))
    print(f"saved the ranker beside the bundles of {', '.join(homes)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
