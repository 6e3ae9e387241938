#!/usr/bin/env python
"""The embedded store (LadybugDB) beside Neo4j 5.26, in one run, on the full amazon-beauty.

For each backend, on a store of its own:

1. ``first load``: the ingest of amazon-beauty into an empty store (embedded: bulk ``COPY``; Neo4j: ``UNWIND ...
   MERGE`` in one transaction per batch, the only path it has);
2. ``re-run``: the same ingest again (reads the rows back, writes none);
3. ``upserts only`` (embedded only, ``--embedded-upserts``): a fresh store loaded without ``COPY``, the path
   Neo4j always takes;
4. ``snapshot``: the graph snapshot that training starts from (``gnn.data.snapshot_from_store``);
5. ``explanations``: the four named queries of ``GET /users/{id}/explanations/{product}`` for 300
   (user, product) pairs two hops apart, after 20 for warm-up: p50 and p99 per explanation;
6. ``events``: 2,000 ``POST /events`` writes (``api.events.store_event``: the user node, then the edge), one at
   a time; on Neo4j also from 4 threads at once (it takes concurrent writers; the embedded engine has one).

The Neo4j server is started for the run by ``scripts/neo4j-local`` (fresh home under a temporary folder, free
ports) and stopped after. Writes ``bench/results/stores.json`` and prints the README's table.

Usage: ``.venv/bin/python bench/stores.py [--data-dir ../shared/data] [--embedded-upserts]`` (about 15 minutes
on 2 cores with ``--embedded-upserts``). Needs Java 17 and Maven (or fetched jars) for Neo4j.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from api.events import store_event
from gnn.data import snapshot_from_store
from kg.config import PROJECT_ROOT
from kg.ingest.pipeline import ingest
from kg.ingest.readers import open_reader
from kg.queries import QueryLibrary
from kg.store import GraphStore
from kg.store.embedded import EmbeddedStore

LIBRARY = QueryLibrary(PROJECT_ROOT / "cypher")
NEO4J_LOCAL = PROJECT_ROOT / "scripts" / "neo4j_local.py"
EXPLAIN = ("direct", "links", "attributes", "collaborative")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def local_neo4j(root: Path) -> Iterator[dict[str, str]]:
    home = root / "neo4j"
    cmd = [sys.executable, str(NEO4J_LOCAL), "--home", str(home)]
    subprocess.run([*cmd, "start", "--bolt-port", "0", "--http-port", "0", "--heap", "2g", "--pagecache", "1g"],
                   check=True)
    try:
        state = json.loads((home / "run.json").read_text())
        yield {"uri": state["bolt_uri"], "user": state["user"], "password": state["password"]}
    finally:
        subprocess.run([*cmd, "stop"], check=False)


def neo4j_store(server: dict[str, str]) -> GraphStore:
    import neo4j

    from kg.store.neo4j import Neo4jStore

    driver = neo4j.GraphDatabase.driver(server["uri"], auth=(server["user"], server["password"]),
                                        notifications_min_severity="OFF")
    store = Neo4jStore(driver, LIBRARY, owns_driver=True)
    store.init_schema()
    return store


def embedded_store(path: Path) -> GraphStore:
    store = EmbeddedStore(path, LIBRARY)
    store.init_schema()
    return store


def run_ingest(name: str, store: GraphStore, data: Path, root: Path, **kw: Any) -> dict[str, Any]:
    log(f"-- {name} ...")
    out = root / "runs" / name.replace(" ", "-")
    report = ingest(open_reader(data, "amazon-beauty"), store, quarantine_path=out / "quarantine.jsonl",
                    report_path=out / "report.json", progress=False, **kw)
    assert not report.invariant_violations(), report.invariant_violations()
    log(f"   {report.read:,} records, {report.load_method}, {report.wall_seconds:.1f} s")
    return {"run": name, "load_method": report.load_method, "records": report.read,
            "wall_seconds": round(report.wall_seconds, 2), "load_seconds": round(report.load_seconds, 2),
            "records_per_s": round(report.read / report.wall_seconds, 1),
            "stages": [s.model_dump() for s in report.stages]}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def explanation_pairs(store: GraphStore, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(user, product) pairs two hops apart (user bought q, q ALSO_BOUGHT p, user never bought p)."""
    rows = store.query("MATCH (u:User)-[:PURCHASED]->(q:Product)-[:ALSO_BOUGHT]->(p:Product) "
                       "RETURN u.id AS u, p.id AS p LIMIT 20000")
    rng = random.Random(seed)
    rng.shuffle(rows)
    return [(r["u"], r["p"]) for r in rows[:n]]


def explain_once(store: GraphStore, user: str, product: str) -> int:
    found = 0
    for name in EXPLAIN:
        query = store.named_query(f"explain/{name}")
        params: dict[str, Any] = {"user_id": user, "product_id": product}
        if "limit" in query.parameters:
            params["limit"] = 10
        found += len(store.run_named(f"explain/{name}", params))
    return found


def explanations(store: GraphStore) -> dict[str, Any]:
    pairs = explanation_pairs(store, 320)
    for user, product in pairs[:20]:
        explain_once(store, user, product)
    times, paths = [], 0
    for user, product in pairs[20:]:
        found, seconds = timed(lambda u=user, p=product: explain_once(store, u, p))
        times.append(seconds * 1000)
        paths += found
    ms = np.array(times)
    return {"pairs": len(times), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_paths": round(paths / len(times), 1)}


def events(store: GraphStore, products: list[str], n: int, threads: int, tag: str) -> dict[str, Any]:
    work = [(f"bench-{tag}-{i % 500}", products[i % len(products)], ("view", "purchase")[i % 2]) for i in range(n)]

    def write(chunk: list[tuple[str, str, str]]) -> None:
        for user, product, kind in chunk:
            store_event(store, user, product, kind, 1_700_000_000 + len(user))

    started = time.perf_counter()
    if threads == 1:
        write(work)
    else:
        workers = [threading.Thread(target=write, args=(work[i::threads],)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    seconds = time.perf_counter() - started
    return {"events": n, "threads": threads, "seconds": round(seconds, 2), "events_per_s": round(n / seconds, 1)}


def bench_backend(name: str, make: Callable[[str], GraphStore], data: Path, root: Path,
                  embedded_upserts: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": name, "ingest": []}
    store = make("beauty")
    result["ingest"].append(run_ingest(f"{name} first load", store, data, root))
    result["ingest"].append(run_ingest(f"{name} re-run", store, data, root))
    if name == "embedded" and embedded_upserts:
        other = make("beauty-upserts")
        result["ingest"].append(run_ingest(f"{name} upserts only", other, data, root, allow_copy=False))
        other.close()
    result["nodes"], result["relationships"] = store.count_nodes(), store.count_relationships()
    log(f"-- {name} snapshot ...")
    snapshot, seconds = timed(lambda: snapshot_from_store(store))
    result["snapshot"] = {"seconds": round(seconds, 2), "users": len(snapshot.ids["user"]),
                          "products": len(snapshot.ids["product"]), "interactions": len(snapshot.inter_user)}
    log(f"-- {name} explanations ...")
    result["explanations"] = explanations(store)
    log(f"-- {name} events ...")
    products = [r["id"] for r in store.query("MATCH (p:Product) RETURN p.id AS id ORDER BY id LIMIT 2000")]
    result["events"] = [events(store, products, 2000, 1, "seq")]
    if name == "neo4j":
        result["events"].append(events(store, products, 2000, 4, "par"))
    store.close()
    log(f"   {json.dumps({k: result[k] for k in ('snapshot', 'explanations', 'events')})}")
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| store | ingest first load (records/s, s) | re-run (records/s, s) | upserts only (records/s, s) | "
             "snapshot s | explanation p50 / p99 ms | events/s (1 writer) | events/s (4 writers) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        runs = {i["run"].split(" ", 1)[1]: i for i in r["ingest"]}
        upserts = runs.get("upserts only") or (runs["first load"] if r["backend"] == "neo4j" else None)

        def cell(run: dict[str, Any] | None) -> str:
            return "-" if run is None else f"{run['records_per_s']:,.0f} ({run['wall_seconds']:.1f} s)"

        ev = {e["threads"]: e for e in r["events"]}
        lines.append(
            f"| {r['backend']} | {cell(runs['first load'])} ({runs['first load']['load_method']}) | "
            f"{cell(runs['re-run'])} | {cell(upserts)} | {r['snapshot']['seconds']:.1f} | "
            f"{r['explanations']['p50_ms']:.1f} / {r['explanations']['p99_ms']:.1f} | "
            f"{ev[1]['events_per_s']:,.0f} | {cell_ev(ev.get(4))} |")
    return "\n".join(lines)


def cell_ev(e: dict[str, Any] | None) -> str:
    return "-" if e is None else f"{e['events_per_s']:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "stores.json")
    parser.add_argument("--embedded-upserts", action="store_true", help="also load the embedded store without COPY")
    parser.add_argument("--only", choices=["embedded", "neo4j"], help="one backend")
    args = parser.parse_args()
    data = args.data_dir / "amazon-beauty"
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="cartograph-bench-stores-") as tmp:
        root = Path(tmp)
        if args.only in (None, "embedded"):
            results.append(bench_backend("embedded", lambda n: embedded_store(root / n / "graph.lbug"), data, root,
                                         args.embedded_upserts))
        if args.only in (None, "neo4j"):
            with local_neo4j(root) as server:
                results.append(bench_backend("neo4j", lambda _name: neo4j_store(server), data, root, False))
    if args.only and args.out.exists():  # one backend re-measured: keep the other's figures
        kept = [r for r in json.loads(args.out.read_text())["results"] if r["backend"] != args.only]
        results = sorted(kept + results, key=lambda r: r["backend"])
    doc = {"benchmark": "bench/stores.py", "dataset": "amazon-beauty",
           "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                       "ladybug": version("ladybug"), "neo4j_driver": version("neo4j"),
                       "neo4j_rust_ext": version("neo4j-rust-ext"), "neo4j_server": "5.26.29"},
           "total_seconds": round(time.perf_counter() - started, 1), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    log(f"\nwritten: {args.out} ({doc['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
