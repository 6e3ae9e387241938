"""The embedded graph's share of the API's memory growth: the soak's event writes, alone in one process.

    .venv/bin/python bench/graph_memory.py --home var/bench-soak-fresh     # 24,000 new users, as in bench/soak.py

Copies the home's graph to a temporary folder, opens it as the API does (a shared store with the API's page
cache cap, ``CARTOGRAPH_SERVING_BUFFER_POOL_MB``), and writes what ten minutes of the soak's events write: each
event a new user viewing a random product, in batches of ``--batch`` (the API's graph writer batches them the
same way, ``api.events.store_events``). Every ``--report-every`` batches it records the process's RSS and the
graph's size on disk (file and write-ahead log). Writes ``bench/results/graph_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from apiserver import RESULTS, ROOT, machine
from soak import graph_mb

from api.eventlog import LoggedEvent
from api.events import store_events
from kg.config import Settings
from kg.store import open_store


def write_events(home: Path, users: int, batch: int, report_every: int) -> list[dict[str, Any]]:
    """Write ``users`` one-event users into a copy of ``home``'s graph; RSS and graph size along the way."""
    with tempfile.TemporaryDirectory(prefix="graph-memory-") as tmp:
        shutil.copy(home / "graph.lbug", Path(tmp) / "graph.lbug")
        settings = Settings(home=Path(tmp), store_backend="embedded", neo4j_uri=None)
        store = open_store(settings, shared=True)
        products = [r["id"] for r in store.query("MATCH (p:Product) RETURN p.id AS id")]
        process, rng, timeline = psutil.Process(), random.Random(0), []
        start = time.perf_counter()
        for b in range(users // batch):
            first = b * batch
            store_events(store, [LoggedEvent(first + i, f"memory-{first + i}", rng.choice(products), "view",
                                             1_700_000_000 + first + i) for i in range(batch)])
            if (b + 1) % report_every == 0:
                timeline.append({"users": first + batch, "rss_mb": round(process.memory_info().rss / 2**20, 1),
                                 "graph_mb": graph_mb(settings.embedded_path),
                                 "seconds": round(time.perf_counter() - start, 1)})
                print(json.dumps(timeline[-1]), flush=True)
        store.close()
    return timeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-soak-fresh")
    parser.add_argument("--users", type=int, default=24_000, help="new users, one event each (the soak's 10 min)")
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--report-every", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS / "graph_memory.json")
    args = parser.parse_args()
    timeline = write_events(args.home.resolve(), args.users, args.batch, args.report_every)
    half = timeline[len(timeline) // 2:]
    per_1000 = (half[-1]["rss_mb"] - half[0]["rss_mb"]) / max(half[-1]["users"] - half[0]["users"], 1) * 1000
    doc = {"machine": machine(), "users": args.users, "batch": args.batch,
           "buffer_pool_mb": Settings().serving_buffer_pool_mb,
           "rss_mb_per_1000_users_second_half": round(per_1000, 3), "timeline": timeline}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"RSS {timeline[0]['rss_mb']} -> {timeline[-1]['rss_mb']} MB, graph {timeline[0]['graph_mb']} -> "
          f"{timeline[-1]['graph_mb']} MB; second half {per_1000:.3f} MB per 1,000 new users")


if __name__ == "__main__":
    main()
