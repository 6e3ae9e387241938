"""Personalised search judged by what each shopper bought next: does the user's model lift the product they chose?

The judged queries of ``bench/search.py`` carry labels that do not depend on who asks, so on them a personal
signal can only reorder products of equal grade: it can lower nDCG@10, never raise it. Whether personalisation
helps a shopper with history needs a label that is the shopper's own. This benchmark uses the protocol of
personalised product search (Ai et al., "Learning a Hierarchical Embedding Model for Personalized Product
Search", SIGIR 2017; the queries there come from the purchased product's category): for a user whose
leave-one-out target is product ``p``,

- the query is ``p``'s product type as the catalog's own extraction reads ``p``'s title (its canonical form:
  "eyeliners" is "eyeliner"), the words a shopper who wants such a product types;
- the one relevant product is ``p`` (graded Exact); every other product counts as not chosen;
- the user's vector is the served model's after the history *before* ``p``: the train items for the
  ``valid`` target (``--split dev``), train + valid for the ``test`` target (``--split test``), exactly the
  recommendations protocol (``gnn.data.Split.known``). The bundle's weights never trained on either target.

Each user's query runs through the service's own search (``api.serving.search.search``: understanding, retrieval,
the ranker trained beside the bundle, the typed-constraint tiers) without the user, and with the user's vector at
each personal weight of ``bench/search_ranker.PERSONAL_WEIGHTS``, within the served ranker's tie band (the user
reorders only products the ranker scores within that band of each other). Metrics (``search_eval.per_query``): nDCG@10,
MRR and recall@50 of the target. Paired bootstrap intervals over users for each weight's nDCG@10 ratio to no
personalisation.

    python bench/search_personal.py --data-dir ../shared/data --split dev --catalogs amazon-beauty

The catalog homes are ``bench/search.py``'s (``var/bench-search/<catalog>``, prepared the same way); the served
bundle there is whatever ``cartograph train`` last published in that home. Writes
``bench/results/search_personal_<split>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT, HERE, HERE / "peers"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402
from personal_cases import Case, cases, user_vector  # noqa: E402
from search_catalog import prepare_home  # noqa: E402
from search_eval import mean, per_query  # noqa: E402
from search_ranker import PERSONAL_WEIGHTS  # noqa: E402
from significance import bootstrap_ratio  # noqa: E402  (bench/peers: the same paired bootstrap as every ratio)

from api.serving.index import ServingIndex  # noqa: E402
from api.serving.search import search  # noqa: E402
from kg.config import Settings  # noqa: E402

CATALOGS = ("amazon-beauty", "amazon-office")
#: Results asked per query: deep enough for recall@50.
K = 100


def rank_all(index: ServingIndex, encoder: Any, items: list[Case], weights: tuple[float, ...]
             ) -> tuple[dict[float, dict[str, list[str]]], list[float]]:
    """``runs[weight][case key]`` product ids best first, and the milliseconds of each personalised search."""
    runs: dict[float, dict[str, list[str]]] = {w: {} for w in weights}
    ms: list[float] = []
    ids = index.catalog.product_ids
    for n, case in enumerate(items):
        vector = user_vector(index, case)
        for w in weights:
            start = time.perf_counter()
            result = search(index, case.query, K, encoder=encoder, user_vector=vector if w > 0 else None,
                            personal_weight=w)
            if w > 0:
                ms.append((time.perf_counter() - start) * 1000.0)
            runs[w][f"{case.user}|{case.target}"] = [ids[h.index] for h in result.hits]
        if (n + 1) % 200 == 0:
            print(f"  {n + 1}/{len(items)} users", flush=True)
    return runs, ms


def evaluate(items: list[Case], runs: dict[float, dict[str, list[str]]]) -> dict[str, Any]:
    qrels = {f"{c.user}|{c.target}": {c.target: 3} for c in items}
    scores = {w: per_query(qrels, run) for w, run in runs.items()}
    keys = list(qrels)
    base = np.array([scores[0.0][k]["ndcg@10"] for k in keys])
    rows = {}
    for w, s in scores.items():
        ndcg = np.array([s[k]["ndcg@10"] for k in keys])
        ratio = bootstrap_ratio(ndcg, base)
        m = mean(s[k] for k in keys)
        rows[str(w)] = {"ndcg@10": m["ndcg@10"], "mrr": m["mrr"], "recall@50": m["recall@50"],
                        "ratio_to_unpersonalised": ratio["ratio"], "interval": [ratio["ci95_low"], ratio["ci95_high"]]}
    return rows


def run_catalog(name: str, home: Path, split: str, users: int, seed: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0)
    with TestClient(create_app(settings)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        index, encoder = service.index, service.encoder
        items, skipped = cases(home, index, split, users, seed)
        print(f"{name}: {len(items)} users ({skipped} left out), model {index.model}", flush=True)
        started = time.perf_counter()
        runs, ms = rank_all(index, encoder, items, (0.0, *(w for w in PERSONAL_WEIGHTS if w > 0), 2.0, 4.0))
        seconds = time.perf_counter() - started
    lat = np.array(ms) if ms else np.zeros(1)
    return {"users": len(items), "left_out": skipped, "model": index.model, "bundle": index.version,
            "served_personal_weight": index.ranker.personal_weight,
            "served_personal_tie_band": index.ranker.personal_tie_band,
            "served_personal_gate": index.ranker.personal_gate, "ranker": index.ranker.name,
            "queries": sorted({c.query for c in items}),
            "by_weight": evaluate(items, runs), "seconds": round(seconds, 1),
            "personalised_latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))}}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"## Personalised search on each shopper's own next product ({report['split']} targets)", "",
             f"`{report['command']}`; machine: {report['machine']}.", ""]
    for name, cat in report["catalogs"].items():
        lines += [f"### {name}: {cat['users']} users, served model {cat['model']} (bundle {cat['bundle']}), "
                  f"{len(cat['queries'])} distinct type queries", "",
                  "| personal weight | nDCG@10 | MRR | recall@50 | nDCG@10 / unpersonalised (95% interval) |",
                  "|---:|---:|---:|---:|---:|"]
        for w, row in cat["by_weight"].items():
            lo, hi = row["interval"]
            high = "unbounded" if hi is None else f"{hi:.3f}"
            lines.append(f"| {w} | {row['ndcg@10']:.4f} | {row['mrr']:.4f} | {row['recall@50']:.4f} | "
                         f"{row['ratio_to_unpersonalised']:.3f}x [{lo:.3f}, {high}] |")
        lines += ["", f"Left out: {cat['left_out']}. Personalised search p50 / p99: "
                  f"{cat['personalised_latency_ms']['p50']:.1f} / {cat['personalised_latency_ms']['p99']:.1f} ms "
                  f"(in-process, one request at a time). The bundle's tuned personal weight: "
                  f"{cat['served_personal_weight']}, tie band {cat.get('served_personal_tie_band')} (every row "
                  f"reorders within it), interest gate {cat.get('served_personal_gate')} (every row personalises "
                  "only the users it lets in).", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-search")
    ap.add_argument("--catalogs", nargs="+", default=list(CATALOGS), choices=CATALOGS)
    ap.add_argument("--homes", nargs="*", default=[], metavar="CATALOG=DIR",
                    help="use this prepared home for a catalog (e.g. the shipped sample in a test)")
    ap.add_argument("--split", choices=("dev", "test"), default="test",
                    help="dev: each user's valid target (tune on it); test: the test target")
    ap.add_argument("--users", type=int, default=1000, help="users per catalog (a seeded draw)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results/search_personal_<split>")
    args = ap.parse_args(argv)
    if args.users < 1:
        ap.error("--users must be at least 1")
    out = args.out or ROOT / "bench" / "results" / f"search_personal_{args.split}"
    report: dict[str, Any] = {
        "split": args.split, "command": "python bench/search_personal.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs", "catalogs": {}}
    given = {c: Path(h) for c, h in (x.split("=", 1) for x in args.homes)}
    for name in (given or {c: None for c in args.catalogs}):
        home = given.get(name) or args.work_dir / name
        if name not in given:
            prepare_home(home, args.data_dir / name)
        report["catalogs"][name] = run_catalog(name, home, args.split, args.users, args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
