"""Probe (not served): the search tie band measured in two units, on dev only. ``all``: the standard deviation
of all of a query's candidates' ranker scores (what :func:`api.serving.search.final_order` serves); ``top``: that
of its best ``--top`` scores (the part of the list personalisation moves), passed to ``final_order`` rescaled.

    python bench/probes/search_tie_band.py --unit top

On the homes and dev queries of ``bench/search_ranker.py`` (run that first; the LightGBM settings are read from
its report), prints for each (band, weight) the judged dev nDCG@10 of the out-of-fold order against the
unpersonalised one, and the dev shoppers' nDCG@10 of their own next product against theirs unpersonalised.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

import numpy as np  # noqa: E402
import search_ranker as sr  # noqa: E402
from search_eval import GRADES, per_query  # noqa: E402

from api.serving.search import final_order, score_spread  # noqa: E402

BANDS = (2.0, 1.0, 0.5, 0.3, 0.2, 0.1)
WEIGHTS = (0.05, 0.1, 0.2, 0.5, 2.0)


def band_for(scores: np.ndarray, band: float, unit: str, top: int) -> float:
    """``band`` in the units ``final_order`` reads (all scores' spread), from ``unit``'s."""
    full = score_spread(scores)
    if unit == "all" or full == 0.0:
        return band
    return band * score_spread(np.sort(scores)[::-1][:top]) / full


def ordered(ids: list[str], scores: np.ndarray, tiers: np.ndarray, cover: np.ndarray, affinity: Any,
            weight: float, band: float | None) -> list[str]:
    order, _ = final_order(scores, tiers, np.arange(len(ids)), affinity, weight, cover, tie_band=band)
    return [ids[j] for j in order[:sr.K]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unit", choices=("all", "top"), default="top")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--work-dir", type=Path, default=HERE.parent.parent / "var" / "bench-search")
    ap.add_argument("--report", type=Path, default=HERE.parent / "results" / "search_ranker.json")
    args = ap.parse_args(argv)
    params = json.loads(args.report.read_text(encoding="utf-8"))["params"]
    theta = json.loads(args.report.read_text(encoding="utf-8"))["no_match_similarity"]
    queries = [q for q in sr.read_jsonl(sr.JUDGED / "queries.jsonl") if q["split"] == "dev"]
    labels = sr.dev_labels(queries, sr.read_jsonl(sr.JUDGED / "qrels.jsonl"))
    dev: list[Any] = []
    shoppers: list[Any] = []
    with ExitStack() as stack:
        for c in sr.CATALOGS:
            cat = stack.enter_context(sr.open_catalog(c, args.work_dir / c))
            dev += sr.collect(cat, [q for q in queries if q["catalog"] == c], labels)
            shoppers += sr.collect_shoppers(cat, args.work_dir / c, sr.PERSONAL_CASES)
    learnable = [i for i, d in enumerate(dev) if any(d.graded.get(p, 0) > 0 for p in d.found.ids)]
    groups = sr.Groups.concat([sr.Groups.of(dev[i].text, dev[i].found, dev[i].graded) for i in learnable])
    _, oof_rows = sr.cross_validate(groups, params, folds=sr.FOLDS, seed=0)
    starts = np.concatenate([[0], np.cumsum(groups.sizes)])
    oof = {i: sr.fallback_ranker().score(d.found.features) for i, d in enumerate(dev)}
    oof.update({i: oof_rows[starts[g]:starts[g + 1]] for g, i in enumerate(learnable)})
    booster = sr.fit_booster(groups, params, seed=0)
    shopper_scores = [booster.predict(s.found.features, num_threads=1) if s.found.ids else np.zeros(0)
                      for s in shoppers]

    def judged(weight: float, band: float | None) -> float:
        per_user = []
        for j in range(max(len(d.affinities) for d in dev)):
            rows = [(d, [] if not d.found.ids or sr.matches_nothing(d.found.features, theta) else
                     ordered(d.found.ids, oof[i], d.found.tiers, d.found.word_cover, d.affinities[j], weight,
                             None if band is None else band_for(oof[i], band, args.unit, args.top)))
                    for i, d in enumerate(dev) if j < len(d.affinities)]
            per_user.append(sr._query_ndcg([d for d, _ in rows], [r for _, r in rows]))
        return float(np.mean([np.mean(list(s.values())) for s in per_user]))

    def shop(weight: float, band: float | None) -> np.ndarray:
        out = np.zeros(len(shoppers))
        for n, (s, sc) in enumerate(zip(shoppers, shopper_scores, strict=True)):
            if s.found.ids:
                ranking = ordered(s.found.ids, sc, s.found.tiers, s.found.word_cover, s.affinity, weight,
                                  None if band is None else band_for(sc, band, args.unit, args.top))
                out[n] = per_query({"q": {s.target: GRADES["E"]}}, {"q": ranking})["q"]["ndcg@10"]
        return out

    j0, s0 = judged(0.0, None), shop(0.0, None)
    print(f"unit {args.unit}: unpersonalised judged {j0:.4f}, shoppers {s0.mean():.4f}")
    for band in BANDS:
        for w in WEIGHTS:
            j, s = judged(w, band), shop(w, band)
            print(f"band {band} weight {w}: judged {j:.4f} ({j / j0:.4f}x), shoppers {s.mean():.4f} "
                  f"({s.mean() / max(s0.mean(), 1e-9):.3f}x)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
