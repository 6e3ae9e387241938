"""Search quality on judged queries: every method against the frozen labels of ``bench/search/``.

    python bench/search.py --data-dir ../shared/data                  # test split, both catalogs
    python bench/search.py --split dev --catalogs amazon-office
    python bench/search.py --pool var/bench-search/pool.jsonl          # the pooled candidates, for labelling

Rows (see ``search_methods.py``): ``bm25`` (titles, bm25s), ``dense`` (MiniLM), ``hybrid`` (their RRF),
``graph`` (Cartograph's ``GET /search`` without a user, ranked by the hand-set weights: linking + BM25 + dense +
graph expansion fused by reciprocal rank), ``learned`` (the same API with the ranker ``bench/search_ranker.py``
trained on the dev split, no user), ``personalised`` (that with a ``user_id``, for two users with history per
query) and ``final`` (what the service answers a signed-in user: the same requests as ``personalised``). Train
the ranker first; without one, ``learned`` is the hand-set weights again. Metrics (``search_eval.py``):
nDCG@10 with ESCI gains, P@5 (Exact; Exact + Substitute), MRR, recall@50 over the queries with an Exact
product; the zero-result rate over them; the filler (results returned) on the no-match queries; latency
p50 / p99 per request. Misspelled queries are also run as corrected, against the same labels.
Writes ``bench/results/search.json`` and ``.md`` and prints which targets (issue 17) hold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402
from search_catalog import Catalog, open_catalog, prepare_home  # noqa: E402
from search_eval import mean, per_query, qrels_by_query, read_jsonl  # noqa: E402
from search_methods import ApiSearch, timed  # noqa: E402
from search_report import markdown, targets  # noqa: E402

JUDGED = HERE / "search"
CATALOGS = ("amazon-beauty", "amazon-office")
ROWS = ("bm25", "dense", "hybrid", "graph", "learned", "personalised")
K = 100
FILLER_K = 10


def _rankers(cat: Catalog, query_id: str) -> dict[str, list[Any]]:
    return {"bm25": [cat.methods["bm25"]], "dense": [cat.methods["dense"]], "hybrid": [cat.methods["hybrid"]],
            "graph": [cat.methods["search"]], "learned": [cat.methods["learned"]],
            "personalised": [ApiSearch(cat.client, u) for u in cat.users_for(query_id)]}


def run_catalog(cat: Catalog, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Rankings ``runs[row][variant][query_id] = [ranking per user]`` and latencies ``ms[row]``."""
    runs: dict[str, dict[str, dict[str, list[list[str]]]]] = {r: {"asked": {}, "corrected": {}} for r in ROWS}
    ms: dict[str, list[float]] = {r: [] for r in ROWS}
    for q in queries:
        texts = {"asked": q["text"], **({"corrected": q["corrected"]} if q.get("corrected") else {})}
        for row, rankers in _rankers(cat, q["id"]).items():
            for variant, text in texts.items():
                answers = [timed(lambda t, f=f: f(t, K), text) for f in rankers]
                runs[row][variant][q["id"]] = [a.ids for a in answers]
                if variant == "asked":
                    ms[row].extend(a.ms for a in answers)
    return {"runs": runs, "ms": ms}


def _scores(qrels: dict[str, dict[str, int]], runs: dict[str, list[list[str]]]) -> dict[str, dict[str, float]]:
    """Per query, the metrics averaged over the query's rankings (one per user for the personalised rows)."""
    if not runs:
        return {}
    n = max(len(v) for v in runs.values())
    per_user = [per_query(qrels, {q: v[j] for q, v in runs.items() if j < len(v)}) for j in range(n)]
    return {q: mean(p[q] for p in per_user if q in p) for q in per_user[0]}


def evaluate(queries: list[dict[str, Any]], qrels: dict[str, dict[str, int]], runs: dict[str, Any],
             ms: dict[str, list[float]]) -> dict[str, Any]:
    kinds = sorted({q["kind"] for q in queries})
    nomatch = [q["id"] for q in queries if q["kind"] == "no-match"]
    out: dict[str, Any] = {}
    for row in ROWS:
        asked = _scores(qrels, runs[row]["asked"])
        corrected = _scores(qrels, runs[row]["corrected"])
        judged = [q for q in queries if q["id"] in asked]
        empty = [q["id"] for q in judged if all(not r for r in runs[row]["asked"][q["id"]])]
        filler = [np.mean([len(r[:FILLER_K]) for r in runs[row]["asked"][q]]) for q in nomatch]
        lat = np.array(ms[row]) if ms[row] else np.zeros(1)
        misspelled = [q for q in judged if q["id"] in corrected]
        out[row] = {
            "queries": len(judged), **mean(asked[q["id"]] for q in judged),
            "zero_result_rate": len(empty) / max(1, len(judged)),
            "no_match_queries": len(nomatch), "filler_per_no_match_query": float(np.mean(filler)) if filler else 0.0,
            "latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
                           "requests": len(ms[row])},
            "by_kind": {k: {"queries": len(sub), **mean(asked[q["id"]] for q in sub)}
                        for k in kinds if (sub := [q for q in judged if q["kind"] == k])},
            "by_band": {b: {"queries": len(sub), **mean(asked[q["id"]] for q in sub)}
                        for b in ("head", "torso", "tail") if (sub := [q for q in judged if q["band"] == b])},
            "misspelled_vs_corrected": {
                "queries": len(misspelled),
                "asked_ndcg@10": mean(asked[q["id"]] for q in misspelled).get("ndcg@10", 0.0),
                "corrected_ndcg@10": mean(corrected[q["id"]] for q in misspelled).get("ndcg@10", 0.0)},
            "per_query_ndcg@10": {q: round(v["ndcg@10"], 4) for q, v in asked.items()},
        }
    out["final"] = {**out["personalised"], "same_as": "personalised"}
    return out


def write_pool(catalogs: dict[str, Catalog], queries: list[dict[str, Any]], path: Path, depth: int) -> None:
    """The union of every row's top ``depth`` per query, with what to judge by. Misspelled and non-English queries
    are also pooled by their corrected form or meaning, so that a search which corrects or translates them finds
    judged products (else only what today's methods return for the typed text would ever be judged)."""
    with path.open("w", encoding="utf-8") as f:
        for q in queries:
            cat = catalogs[q["catalog"]]
            ids: list[str] = []
            for rankers in _rankers(cat, q["id"]).values():
                for text in filter(None, (q["text"], q.get("corrected"), q.get("meaning"))):
                    for ranker in rankers[:1]:
                        # the top of the ranking as measured (K deep), not of one asked for ``depth``: a fusion
                        # of shorter lists (hybrid's RRF) orders its top differently
                        ids.extend(p for p in ranker(text, K)[:depth] if p not in ids)
            products = [cat.products[p].__dict__ for p in ids]
            f.write(json.dumps({"query": q, "products": products}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-search")
    ap.add_argument("--catalogs", nargs="+", default=list(CATALOGS))
    ap.add_argument("--homes", nargs="*", default=[], metavar="CATALOG=DIR",
                    help="use this prepared home for a catalog (e.g. the shipped sample in a test)")
    ap.add_argument("--queries", type=Path, default=JUDGED / "queries.jsonl")
    ap.add_argument("--qrels", type=Path, default=JUDGED / "qrels.jsonl")
    ap.add_argument("--split", choices=("test", "dev", "all"), default="test")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search")
    ap.add_argument("--pool", type=Path, help="write the pooled candidates of every query here and stop")
    ap.add_argument("--pool-depth", type=int, default=10)
    ap.add_argument("--shoppers", type=Path, default=ROOT / "bench" / "results" / "search_personal_test.json",
                    help="a bench/search_personal.py --split test report: the personalisation target for users "
                         "with history is read from it (judged labels do not depend on the user)")
    args = ap.parse_args(argv)

    homes = {c: args.work_dir / c for c in args.catalogs} | dict(h.split("=", 1) for h in args.homes)
    queries = [q for q in read_jsonl(args.queries) if q["catalog"] in homes
               and (args.pool or args.split == "all" or q["split"] == args.split)]
    homes = {c: h for c, h in homes.items() if any(q["catalog"] == c for q in queries)}  # only those asked of
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # other work on the same cores inflates latency
    results: dict[str, Any] = {}
    from contextlib import ExitStack

    with ExitStack() as stack:
        catalogs = {}
        for c, home in homes.items():
            if c in CATALOGS and not args.homes:
                prepare_home(Path(home), args.data_dir / c)
            catalogs[c] = stack.enter_context(open_catalog(c, Path(home)))
        if args.pool:
            write_pool(catalogs, queries, args.pool, args.pool_depth)
            print(f"pooled {len(queries)} queries into {args.pool}")
            return 0
        qrels = qrels_by_query(read_jsonl(args.qrels))
        raw = {c: run_catalog(catalogs[c], [q for q in queries if q["catalog"] == c]) for c in catalogs}
        rankers = {c: catalogs[c].client.app.state.service.index.ranker.name for c in catalogs}
    runs = {r: {v: {q: x for c in raw for q, x in raw[c]["runs"][r][v].items()} for v in ("asked", "corrected")}
            for r in ROWS}
    ms = {r: [x for c in raw for x in raw[c]["ms"][r]] for r in ROWS}
    results["all"] = evaluate(queries, qrels, runs, ms)
    for c in catalogs:
        sub = [q for q in queries if q["catalog"] == c]
        results[c] = evaluate(sub, qrels, {r: {v: {q: runs[r][v][q] for q in runs[r][v] if q in {s["id"] for s in sub}}
                                               for v in ("asked", "corrected")} for r in ROWS},
                              {r: raw[c]["ms"][r] for r in ROWS})
    shoppers = json.loads(args.shoppers.read_text(encoding="utf-8")) if args.shoppers.is_file() else None
    checks = targets(results["all"], shoppers if args.split == "test" else None, rankers)
    doc = {"split": args.split, "catalogs": list(catalogs), "queries": len(queries),
           "judged_pairs": sum(len(v) for v in qrels.values()), "results": results, "targets": checks,
           "query_dictionaries": {c: catalogs[c].dictionaries for c in catalogs},
           "seconds": round(time.perf_counter() - started, 1),
           "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "load_average_at_start": load_at_start}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(doc), encoding="utf-8")
    for name, check in checks.items():
        print(f"{'HOLDS' if check['holds'] else 'FAILS'}  {name}: {check['detail']}")
    print(f"wrote {args.out.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
