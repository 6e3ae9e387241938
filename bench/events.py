"""Events benchmark: acknowledged events per second and their latency, with explanation clients beside.

    .venv/bin/python bench/events.py --duration 20                       # embedded store, about 1 minute
    .venv/bin/python bench/events.py --neo4j-uri bolt://127.0.0.1:7687 --neo4j-password ...   # and Neo4j

What it does, per store (the embedded one; Neo4j too when ``--neo4j-uri`` is given):

1. The API in its own process (``create_app`` under uvicorn, one worker, a fresh event log) on the home of
   ``bench/apiserver.py`` (the shipped sample, quickstart-trained once).
2. Two phases of ``--duration`` seconds each: ``wrk`` posting events over ``--concurrency`` connections alone,
   then the same with ``--explain-clients`` threads (8) asking for explanations of random (user, product) pairs
   in a loop beside it (a 503, every graph slot taken, is retried after 0.1 s, sooner than its Retry-After
   asks, to press harder). Each event is a new user (so the graph check below can count them), product and
   type cycling through the catalog. An event is acknowledged when answered 202: it is then on disk (group
   commit) and in the user's recommendations. The server's CPU seconds per acknowledged event are recorded
   beside the rate: on a shared machine the rate says more about the other work than about the service.
3. In this process, the CPU per event of the log's group commit and of the graph writer's batches
   (``--parts-only`` runs just these and adds them to an existing result file).
4. After the load: the time until the graph writer's backlog (``cartograph_events_backlog``) is empty, then the
   server is stopped and the graph is counted: every acknowledged event must be an edge there.

Writes ``bench/results/events.json`` and prints a markdown table. Needs ``wrk``. The machine's load average
is recorded before and after: on a shared machine every figure is inflated by the other work.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psutil
from apiserver import RESULTS, ROOT, WRK_DONE, cartograph, ensure_home, machine, metric, sample_ids, start_server

WRK_EVENTS = r"""
local threadn = 0
local types = {"view", "view", "view", "cart", "purchase"}
setup = function(thread)
  thread:set("tid", threadn)
  threadn = threadn + 1
end
init = function(args)
  products = {}
  for line in io.lines(args[1]) do table.insert(products, line) end
  n = #products
  prefix = args[2]
  counter = 0
end
request = function()
  counter = counter + 1
  local body = string.format('{"user_id":"%s-%d-%d","product_id":"%s","type":"%s"}', prefix, tid, counter,
                             products[(counter * 7919) % n + 1], types[counter % 5 + 1])
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk_events(base: str, products: list[str], prefix: str, connections: int, seconds: int, threads: int
               ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script, product_file = Path(tmp) / "events.lua", Path(tmp) / "products.txt"
        script.write_text(WRK_EVENTS + WRK_DONE)
        product_file.write_text("\n".join(products) + "\n")
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", str(script), base, "--", str(product_file), prefix],
                             capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    errors = result["non_2xx"] + result["read_errors"] + result["timeouts"]
    result["acknowledged"] = result["requests"] - result["non_2xx"]
    result["acks_per_s"] = round(result["acknowledged"] / result["seconds"], 1)
    result["errors"] = errors
    return result


class ExplainClients:
    """Threads asking for explanations in a loop, counting answers by status."""

    def __init__(self, base: str, users: list[str], products: list[str], clients: int) -> None:
        self.netloc = urllib.parse.urlparse(base).netloc
        self.users, self.products, self.clients = users, products, clients
        self.counts: dict[str, int] = {}
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(self.netloc, timeout=30)
        while not self._stop.is_set():
            path = f"/users/{urllib.parse.quote(rng.choice(self.users))}/explanations/" \
                   f"{urllib.parse.quote(rng.choice(self.products))}"
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except OSError as e:
                status = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(self.netloc, timeout=30)
            with self._lock:
                self.counts[status] = self.counts.get(status, 0) + 1
                if status == "200":
                    self.latencies.append(time.perf_counter() - start)
            if status == "503":
                self._stop.wait(0.1)

    def __enter__(self) -> ExplainClients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def count_in_graph(settings: dict[str, Any], prefix: str) -> int:
    from kg.config import Settings
    from kg.store import open_store

    with open_store(Settings(**settings), read_only=settings["store_backend"] == "embedded") as store:
        rows = store.query("MATCH (u:User)-[r]->(:Product) WHERE u.id STARTS WITH $prefix RETURN count(r) AS n",
                           {"prefix": prefix + "-"})
    return int(rows[0]["n"])


def server_cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def phase(base: str, pid: int, users: list[str], products: list[str], prefix: str, clients: int,
          args: argparse.Namespace) -> dict[str, Any]:
    """One load: wrk posting events, ``clients`` explanation clients beside; with the server's CPU seconds."""
    load_before, cpu_before = os.getloadavg(), server_cpu_s(pid)
    with ExplainClients(base, users, products, clients) as explainers:
        events = wrk_events(base, products, prefix, args.concurrency, args.duration, args.wrk_threads)
    cpu = server_cpu_s(pid) - cpu_before
    lat = sorted(explainers.latencies)
    return {
        "explain_clients": clients, "events": events,
        "explain": {"answers": explainers.counts, "ok_per_s": round(len(lat) / events["seconds"], 1),
                    "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
                    "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None},
        # CPU the server spent per acknowledged event (explanations included when they ran): a figure that
        # other work on a shared machine inflates far less than the rate does.
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_ack": round(1000 * cpu / max(1, events["acknowledged"]), 3),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def run_store(name: str, settings: dict[str, Any], home: Path, args: argparse.Namespace) -> dict[str, Any]:
    users, products = sample_ids(home)
    prefix = f"bench{int(time.time())}"
    print(f"== {name}", flush=True)
    proc, base = start_server(settings)
    try:
        wrk_events(base, products, f"{prefix}warm", 4, 3, 1)
        phases = [phase(base, proc.pid, users, products, f"{prefix}a", 0, args),
                  phase(base, proc.pid, users, products, f"{prefix}x", args.explain_clients, args)]
        start = time.monotonic()
        while metric(base, "cartograph_events_backlog") > 0 and time.monotonic() - start < 300:
            time.sleep(0.2)
        drain_s = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(60)
    for p in phases:
        tag = f"{prefix}{'x' if p['explain_clients'] else 'a'}"
        p["in_graph"] = count_in_graph(settings, tag)
        p["lost"] = max(0, p["events"]["acknowledged"] - p["in_graph"])
    result = {"store": name, "concurrency": args.concurrency, "duration_s": args.duration, "phases": phases,
              "backlog_drained_s": round(drain_s, 2)}
    print(json.dumps(result, indent=1), flush=True)
    return result


def parts() -> dict[str, Any]:
    """CPU per event of the two pieces behind the HTTP layer, in this process: the log's group commit (5000
    appends, 16 in flight) and the graph writer's batch write (batches of 100, 1000, 5000 into a fresh
    embedded store opened as the API opens it)."""
    import asyncio
    import resource

    from api.eventlog import EventLog, LoggedEvent
    from api.events import store_events
    from kg.config import Settings
    from kg.store import open_store

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "log").open()

        async def burst(n: int, in_flight: int) -> None:
            gate = asyncio.Semaphore(in_flight)

            async def one(i: int) -> None:
                async with gate:
                    await log.append_async(f"u{i}", "P1", "view", i)

            await asyncio.gather(*(one(i) for i in range(n)))

        c0, t0 = cpu(), time.perf_counter()
        asyncio.run(burst(5000, 16))
        out["log_append"] = {"events": 5000, "per_s_wall": round(5000 / (time.perf_counter() - t0)),
                             "cpu_ms_per_event": round(1000 * (cpu() - c0) / 5000, 3)}
        log.close()
        store = open_store(Settings(home=Path(tmp) / "home", store_backend="embedded", neo4j_uri=None), shared=True)
        store.init_schema()
        store.upsert_nodes("Product", [{"id": f"P{i}", "title": "x", "active": True} for i in range(2000)])
        seq = 0
        for size in (100, 1000, 5000):
            batch = [LoggedEvent(seq + i + 1, f"user{seq + i}", f"P{i % 2000}", ("view", "purchase")[i % 2], i)
                     for i in range(size)]
            seq += size
            c0, t0 = cpu(), time.perf_counter()
            store_events(store, batch)
            out[f"graph_batch_{size}"] = {"per_s_wall": round(size / (time.perf_counter() - t0)),
                                          "cpu_ms_per_event": round(1000 * (cpu() - c0) / size, 3)}
        store.close()
    print(json.dumps(out), flush=True)
    return out


def markdown(doc: dict[str, Any]) -> str:
    lines = ["| store | explanation clients | connections | acks/s | p50 ms | p99 ms | errors "
             "| server CPU ms / ack | explanations 200/s (503s) | acked / in graph | load avg (1 min) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["runs"]:
        for p in r["phases"]:
            e, x = p["events"], p["explain"]
            lines.append(f"| {r['store']} | {p['explain_clients']} | {r['concurrency']} | {e['acks_per_s']:,.0f} "
                         f"| {e['p50_ms']:.1f} | {e['p99_ms']:.1f} | {e['errors']} | {p['server_cpu_ms_per_ack']} "
                         f"| {x['ok_per_s']} ({x['answers'].get('503', 0)}) "
                         f"| {e['acknowledged']:,} / {p['in_graph']:,} "
                         f"| {p['loadavg_before'][0]} -> {p['loadavg_after'][0]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-events")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--explain-clients", type=int, default=8)
    parser.add_argument("--neo4j-uri", default=None, help="also run on this Neo4j (the sample is ingested)")
    parser.add_argument("--neo4j-user", default="neo4j")
    parser.add_argument("--neo4j-password", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "events.json")
    parser.add_argument("--parts-only", action="store_true", help="only the in-process parts (no server)")
    args = parser.parse_args()
    if args.parts_only:
        doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
        doc["parts"] = {"machine": machine(), **parts()}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        return
    home = args.home.resolve()
    ensure_home(home, {"CARTOGRAPH_STORE_BACKEND": "embedded"})
    common = {"home": str(home), "bundle_watch_s": 0, "serve_threads": 1}
    runs = [run_store("embedded", {**common, "store_backend": "embedded", "neo4j_uri": None,
                                   "event_log_dir": tempfile.mkdtemp(prefix="events-")}, home, args)]
    if args.neo4j_uri:
        neo4j = {"store_backend": "neo4j", "neo4j_uri": args.neo4j_uri, "neo4j_user": args.neo4j_user,
                 "neo4j_password": args.neo4j_password}
        env = {"CARTOGRAPH_HOME": str(home), **{f"CARTOGRAPH_{k.upper()}": str(v) for k, v in neo4j.items()}}
        cartograph("ingest", str(ROOT / "data" / "sample"), "--no-progress", env=env)
        runs.append(run_store("neo4j", {**common, **neo4j, "event_log_dir": tempfile.mkdtemp(prefix="events-")},
                              home, args))
    doc = {"machine": machine(), "runs": runs, "parts": {"machine": machine(), **parts()},
           "note": "measured on a shared machine (see the load averages), not an idle one"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown(doc))


if __name__ == "__main__":
    main()
