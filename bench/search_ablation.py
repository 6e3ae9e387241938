"""Which ranking features earn their place: out-of-fold dev figures with groups of columns left out.

    python bench/search_ablation.py --data-dir ../shared/data                 # every group of FEATURE_GROUPS
    python bench/search_ablation.py --drop title_bm25,title_bm25_norm --drop -  # these subsets only ('-': none)
    python bench/search_ablation.py --judged-only                              # train on judged candidates only

On the homes ``bench/search_ranker.py`` uses (they must exist), the dev queries are collected once through the
API's index (``search_ranker.collect``), then for each subset of columns: for each of ``--seeds`` fold seeds, every
setting of ``search_ranker.GRID`` is cross-validated over 5 query-disjoint folds, the one with the best
out-of-fold nDCG@10 kept, and its out-of-fold rankings scored as the benchmark scores them (the same final order,
no-match rule and metric code: ``search_ranker.served``, ``bench_ndcg``, ``bench_p5``). Every subset sees the same
candidates, folds and seeds in one process, so their differences are the columns', not the run-to-run noise of
the features. Dev labels only: test figures come from ``bench/search.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402
import search_ranker as sr  # noqa: E402
from search_catalog import open_catalog  # noqa: E402
from search_eval import read_jsonl  # noqa: E402

from api.ranker_training import Candidates, Groups, fit_booster  # noqa: E402
from api.serving.features import FEATURES  # noqa: E402
from api.serving.ranker import fallback_ranker  # noqa: E402

#: The column groups left out one at a time by default (the newest features first).
FEATURE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("title_dense", "title_dense_gap"), ("title_bm25", "title_bm25_norm"), ("category_dense",),
    ("title_head", "title_typed"),
    ("title_dense", "title_dense_gap", "title_bm25", "title_bm25_norm", "category_dense"),
)


def group_of(d: sr.DevQuery, keep: list[int], judged_only: bool) -> Groups:
    """``d``'s training group with only the ``keep`` columns (and only its judged candidates if asked)."""
    f = d.found
    if judged_only:
        rows = [j for j, p in enumerate(f.ids) if p in d.graded]
        f = Candidates([f.ids[j] for j in rows], f.features[rows], f.tiers[rows], f.word_cover[rows])
    return Groups.of(d.text, Candidates(f.ids, f.features[:, keep], f.tiers, f.word_cover), d.graded)


def out_of_fold(dev: list[sr.DevQuery], drop: set[str], seeds: int, judged_only: bool) -> dict[str, Any]:
    """Mean (and per seed) out-of-fold dev nDCG@10 and P@5 without the ``drop`` columns."""
    unknown = drop - set(FEATURES)
    if unknown:
        raise SystemExit(f"not a feature: {', '.join(sorted(unknown))}")
    keep = [j for j, name in enumerate(FEATURES) if name not in drop]
    theta, _ = sr.choose_no_match_similarity(dev)
    learnable = [i for i, d in enumerate(dev) if any(d.graded.get(p, 0) > 0 for p in d.found.ids)]
    fallback = fallback_ranker()
    per_seed = []
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(learnable))
        best: tuple[float, float] | None = None
        for params in sr.GRID:
            scores = {i: fallback.score(d.found.features) for i, d in enumerate(dev)}  # nothing to learn from
            for fold in range(sr.FOLDS):
                held = {learnable[k] for k in order[fold::sr.FOLDS]}
                train = Groups.concat([group_of(dev[i], keep, judged_only) for i in learnable if i not in held])
                booster = fit_booster(train, params, seed=seed)
                for i in held:
                    scores[i] = booster.predict(dev[i].found.features[:, keep], num_threads=1)
            ranked = [sr.served(d, scores[i], no_match_similarity=theta) for i, d in enumerate(dev)]
            figures = (sr.bench_ndcg(dev, ranked), sr.bench_p5(dev, ranked))
            if best is None or figures[0] > best[0]:
                best = figures
        assert best is not None
        per_seed.append(best)
    a = np.array(per_seed)
    return {"dropped": sorted(drop), "judged_only": judged_only, "ndcg@10": round(float(a[:, 0].mean()), 4),
            "p@5": round(float(a[:, 1].mean()), 4), "per_seed_ndcg@10": np.round(a[:, 0], 4).tolist(),
            "per_seed_p@5": np.round(a[:, 1], 4).tolist()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-search")
    ap.add_argument("--drop", action="append", default=None, metavar="A,B",
                    help="columns to leave out, comma-separated ('-': none); repeat for several subsets")
    ap.add_argument("--seeds", type=int, default=3, help="fold seeds per subset")
    ap.add_argument("--judged-only", action="store_true", help="train on judged candidates only")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search_ablation.json")
    args = ap.parse_args(argv)
    subsets = [set() if d == "-" else set(d.split(",")) for d in args.drop] if args.drop else \
        [set(), *(set(g) for g in FEATURE_GROUPS)]
    homes = {c: args.work_dir / c for c in sr.CATALOGS}
    missing = [str(h) for h in homes.values() if not (h / "artifacts" / "current").is_file()]
    if missing:
        raise SystemExit(f"no trained home at {', '.join(missing)}: run bench/search_ranker.py first")
    queries = [q for q in read_jsonl(sr.JUDGED / "queries.jsonl") if q["split"] == "dev"]
    labels = sr.dev_labels(queries, read_jsonl(sr.JUDGED / "qrels.jsonl"))
    dev: list[sr.DevQuery] = []
    with ExitStack() as stack:
        for c, home in homes.items():
            cat = stack.enter_context(open_catalog(c, home))
            dev += sr.collect(cat, [q for q in queries if q["catalog"] == c], labels)
    rows = []
    for drop in subsets:
        started = time.perf_counter()
        row = out_of_fold(dev, drop, args.seeds, args.judged_only)
        rows.append({**row, "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"features": list(FEATURES), "seeds": args.seeds, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
