"""Events benchmark: acknowledged events per second and their latency, single and batched, with explanation
clients beside.

    .venv/bin/python bench/events.py --duration 20                       # embedded store, about 2 minutes
    .venv/bin/python bench/events.py --neo4j-uri bolt://127.0.0.1:7687 --neo4j-password ...   # and Neo4j

What it does, per store (the embedded one; Neo4j too when ``--neo4j-uri`` is given):

1. The API in its own process (``create_app`` under uvicorn as ``cartograph serve`` runs it, one worker, a fresh
   event log) on the home of ``bench/apiserver.py`` (the shipped sample, quickstart-trained once).
2. Six phases of ``--duration`` seconds each, beside ``--explain-clients`` threads (8) asking for explanations
   of random (user, product) pairs in a loop where the phase says so (a 503, every graph slot taken, is retried
   after 0.1 s, sooner than its Retry-After asks, to press harder):

   - single events (``POST /events``) from ``wrk`` over ``--concurrency`` connections, as fast as answered,
     alone and then beside the explanation clients;
   - beside them, batches (``POST /events/batch``, ``--batch-size`` events each) sent on a schedule at ``--rate``
     events/s (2,000: the target) whatever the answers take, each batch's latency counted from when it was due
     (no coordinated omission): the latency at the target rate, not at saturation;
   - batches from ``wrk`` over ``--batch-concurrency`` connections as fast as answered, alone and beside them;
   - last, beside them, single events on the same schedule, sent by ``vegeta`` (last: a server that cannot keep
     up is still answering what vegeta gave up on after 10 s when the phase ends).

   Each phase starts once the graph writer has written the previous one's events (``backlog_drain_before_s``).
   Each event is a new user (so the graph check below can count them), product and type cycling through the
   catalog. An event is acknowledged when answered 202 (in a batch: the batch answered 202, each item 202 in its
   result; the generated items are all valid, and the server's ``cartograph_events_total`` is recorded beside
   the count): it is then on disk (group commit) and in the user's recommendations. A batch's latency is every
   one of its events' (the time a collector buffered them before sending is not in it). The server's CPU
   seconds per acknowledged event are recorded beside the rate, and the CPU that other processes took meanwhile
   (the whole machine's busy time less the server's and this script's, wrk included): on a shared machine the
   rate says more about the other work than about the service.
3. In this process, the CPU per event of the log's group commit and of the graph writer's batches
   (``--parts-only`` runs just these and adds them to an existing result file).
4. After the load: the time until the graph writer's backlog (``cartograph_events_backlog``) is empty, then the
   server is stopped and the graph is counted: every acknowledged event must be an edge there.

Writes ``bench/results/events.json`` and prints a markdown table. Needs ``wrk`` and ``vegeta`` (``go install
github.com/tsenart/vegeta/v12@VERSION``, :data:`VEGETA_VERSION`). The machine's load average
is recorded before and after each phase: on a shared machine every figure is inflated by the other work.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import queue
import random
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from apiserver import RESULTS, ROOT, WRK_DONE, cartograph, ensure_home, machine, metric, sample_ids, start_server

if TYPE_CHECKING:
    from kg.store.base import GraphStore

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


#: The same events, ``batch`` of them per ``POST /events/batch`` (user ids ``prefix-thread-request-item``).
WRK_BATCH = r"""
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
  batch = tonumber(args[3])
  counter = 0
end
request = function()
  counter = counter + 1
  local items = {}
  for j = 1, batch do
    local k = counter * batch + j
    items[j] = string.format('{"user_id":"%s-%d-%d-%d","product_id":"%s","type":"%s"}', prefix, tid, counter, j,
                             products[(k * 7919) % n + 1], types[k % 5 + 1])
  end
  local body = '{"events":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/events/batch", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk_events(base: str, products: list[str], prefix: str, connections: int, seconds: int, threads: int,
               batch: int = 0) -> dict[str, Any]:
    """wrk posting events for ``seconds``: single ones (``batch`` 0) or ``batch`` per request."""
    with tempfile.TemporaryDirectory() as tmp:
        script, product_file = Path(tmp) / "events.lua", Path(tmp) / "products.txt"
        script.write_text((WRK_BATCH if batch else WRK_EVENTS) + WRK_DONE)
        product_file.write_text("\n".join(products) + "\n")
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", str(script), base, "--", str(product_file), prefix, str(batch)],
                             capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    errors = result["non_2xx"] + result["read_errors"] + result["timeouts"]
    result["acknowledged"] = (result["requests"] - result["non_2xx"]) * max(1, batch)
    result["acks_per_s"] = round(result["acknowledged"] / result["seconds"], 1)
    result["errors"] = errors
    return result


def paced_batches(base: str, products: list[str], prefix: str, rate: float, batch: int, seconds: int,
                  senders: int = 8) -> dict[str, Any]:
    """Open loop: a batch of ``batch`` events every ``batch / rate`` seconds, on schedule whatever the answers
    take, sent by ``senders`` threads. Each batch's latency counts from the time it was due, so a server that
    falls behind shows it (no coordinated omission). Answers the fields :func:`wrk_events` does."""
    interval, due = batch / rate, queue.SimpleQueue[int]()
    count = int(seconds / interval)
    for k in range(count):
        due.put(k)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    types = ("view", "view", "view", "cart", "purchase")

    def event(n: int) -> dict[str, str]:  # as the wrk scripts make them: a new user each, products cycling
        return {"user_id": f"{prefix}-{n}", "product_id": products[n * 7919 % len(products)], "type": types[n % 5]}

    def sender() -> None:
        conn = http.client.HTTPConnection(urllib.parse.urlparse(base).netloc, timeout=10)
        while True:
            try:
                k = due.get_nowait()
            except queue.Empty:
                return
            at = start + k * interval
            time.sleep(max(0.0, at - time.perf_counter()))
            body = json.dumps({"events": [event(k * batch + j) for j in range(batch)]})
            try:
                conn.request("POST", "/events/batch", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(urllib.parse.urlparse(base).netloc, timeout=10)
            with lock:
                latencies.append(time.perf_counter() - at)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    ok = statuses.get(202, 0)

    def pct(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * q))] * 1000, 3)

    return {"p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "max_ms": round(lat[-1] * 1000, 3),
            "requests": len(lat), "seconds": round(elapsed, 3), "non_2xx": len(lat) - ok - statuses.get(0, 0),
            "connect_errors": 0, "read_errors": statuses.get(0, 0), "timeouts": 0, "acknowledged": ok * batch,
            "acks_per_s": round(ok * batch / elapsed, 1), "errors": len(lat) - ok, "target_per_s": rate}


#: The vegeta release the scheduled single-event phase was measured with.
VEGETA_VERSION = "v12.13.0"


def vegeta() -> str:
    """The path of ``vegeta`` (an open-loop HTTP load generator in Go), or SystemExit saying how to install it."""
    found = shutil.which("vegeta") or next((str(p) for p in (Path.home() / "go" / "bin" / "vegeta",) if p.is_file()),
                                           None)
    if found is None:
        raise SystemExit("bench/events.py needs vegeta for the scheduled single events: "
                         f"go install github.com/tsenart/vegeta/v12@{VEGETA_VERSION} (it lands in ~/go/bin)")
    return found


def paced_singles(base: str, products: list[str], prefix: str, rate: float, seconds: int) -> dict[str, Any]:
    """Open loop: single events (``POST /events``) at ``rate`` a second for ``seconds``, sent by ``vegeta attack``,
    which starts each request on its schedule whatever the earlier ones take (it adds workers when every one is
    busy), so a server that falls behind shows it in the latency. Answers the fields :func:`wrk_events` does."""
    types = ("view", "view", "view", "cart", "purchase")
    url, tool = base + "/events", vegeta()
    with tempfile.TemporaryDirectory() as tmp:
        targets = Path(tmp) / "targets.jsonl"
        with targets.open("w") as f:
            for n in range(int(rate * seconds) + 1):
                body = json.dumps({"user_id": f"{prefix}-{n}", "product_id": products[n * 7919 % len(products)],
                                   "type": types[n % 5]}).encode()
                f.write(json.dumps({"method": "POST", "url": url, "body": base64.b64encode(body).decode(),
                                    "header": {"Content-Type": ["application/json"]}}) + "\n")
        attack = subprocess.run([tool, "attack", "-format=json", "-lazy", f"-targets={targets}",
                                 f"-rate={rate:g}/s", f"-duration={seconds}s", "-timeout=10s"],
                                capture_output=True, check=True).stdout
        report = json.loads(subprocess.run([tool, "report", "-type=json"], input=attack, capture_output=True,
                                           check=True).stdout)
    lat, codes = report["latencies"], {int(k): v for k, v in report["status_codes"].items()}
    ok, elapsed = codes.get(202, 0), (report["duration"] + report["wait"]) / 1e9
    return {"p50_ms": round(lat["50th"] / 1e6, 3), "p90_ms": round(lat["90th"] / 1e6, 3),
            "p99_ms": round(lat["99th"] / 1e6, 3), "max_ms": round(lat["max"] / 1e6, 3),
            "requests": report["requests"], "seconds": round(elapsed, 3),
            "non_2xx": report["requests"] - ok - codes.get(0, 0), "connect_errors": 0, "read_errors": codes.get(0, 0),
            "timeouts": 0, "acknowledged": ok, "acks_per_s": round(ok / elapsed, 1),
            "errors": report["requests"] - ok, "target_per_s": rate}


def events_accepted(base: str) -> int:
    """The server's ``cartograph_events_total``, all types."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        return int(sum(float(line.split()[-1]) for line in r.read().decode().splitlines()
                       if line.startswith("cartograph_events_total{")))


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


#: Every user this benchmark writes has an id starting with this (then the run's time and the phase).
USER_PREFIX = "bench"


def remove_users_with_prefix(store: GraphStore, prefix: str = USER_PREFIX, batch: int = 50) -> int:
    """Delete the users whose id starts with ``prefix``, with their edges, ``batch`` users per transaction, and
    return how many. The Neo4j phase writes into a database that outlives the run (the embedded phase works on
    a copy): without this each run started on a bigger graph, and after a few runs the API's startup read
    outgrew Neo4j's transaction memory."""
    deleted = 0
    while True:
        rows = store.query("MATCH (u:User) WHERE u.id STARTS WITH $prefix WITH u LIMIT $batch "
                           "DETACH DELETE u RETURN count(*) AS n", {"prefix": prefix, "batch": batch})
        n = int(rows[0]["n"]) if rows else 0
        deleted += n
        if n == 0:
            return deleted


def remove_bench_users(settings: dict[str, Any]) -> int:
    from kg.config import Settings
    from kg.store import open_store

    with open_store(Settings(**settings)) as store:
        return remove_users_with_prefix(store)


def server_cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def own_cpu_s() -> float:
    """This process's CPU seconds and its finished children's (wrk)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core, every process)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def phase(base: str, pid: int, users: list[str], products: list[str], prefix: str, clients: int,
          args: argparse.Namespace, batch: int = 0, rate: float = 0) -> dict[str, Any]:
    """One load: wrk posting events as fast as answered (``batch`` 0: single ones; else batches of that many)
    or, with ``rate``, batches on a schedule at that many events/s; ``clients`` explanation clients beside;
    with the server's CPU seconds and the other processes'."""
    waited_s = drain_backlog(base)  # each phase starts with the graph writer idle, not busy with the last one's
    load_before, cpu_before, own_before, busy_before = os.getloadavg(), server_cpu_s(pid), own_cpu_s(), \
        machine_busy_s()
    accepted_before = events_accepted(base)
    with ExplainClients(base, users, products, clients) as explainers:
        if rate and not batch:
            connections = 0  # vegeta opens what its schedule needs
            events = paced_singles(base, products, prefix, rate, args.duration)
        elif rate:
            connections = 8
            events = paced_batches(base, products, prefix, rate, batch, args.duration, connections)
        else:
            connections = args.batch_concurrency if batch else args.concurrency
            events = wrk_events(base, products, prefix, connections, args.duration, args.wrk_threads, batch)
    cpu = server_cpu_s(pid) - cpu_before
    other = machine_busy_s() - busy_before - cpu - (own_cpu_s() - own_before)
    lat = sorted(explainers.latencies)
    return {
        "mode": ((f"batches of {batch} at {rate:,.0f}/s" if rate else f"batch of {batch}") if batch
                 else f"single at {rate:,.0f}/s" if rate else "single"),
        "batch": batch, "rate": rate, "connections": connections,
        "explain_clients": clients, "events": events,
        # every event the server counted as accepted (a check of the acknowledged count: requests in flight
        # when wrk stopped are counted here and not there)
        "server_accepted": events_accepted(base) - accepted_before,
        "other_processes_cpu_cores": round(other / events["seconds"], 2),
        "explain": {"answers": explainers.counts, "ok_per_s": round(len(lat) / events["seconds"], 1),
                    "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
                    "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None},
        # CPU the server spent per acknowledged event (explanations included when they ran): a figure that
        # other work on a shared machine inflates far less than the rate does.
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_ack": round(1000 * cpu / max(1, events["acknowledged"]), 3),
        "backlog_drain_before_s": waited_s,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def drain_backlog(base: str, limit_s: float = 300) -> float:
    """Wait until the graph writer has written everything logged (at most ``limit_s``); returns the seconds."""
    start = time.monotonic()
    while metric(base, "cartograph_events_backlog") > 0 and time.monotonic() - start < limit_s:
        time.sleep(0.2)
    return round(time.monotonic() - start, 2)


def phase_plan(args: argparse.Namespace) -> list[tuple[str, int, int, float]]:
    """(user id tag, explanation clients, batch size, scheduled rate) of each phase, in order: single events
    as fast as answered, alone and beside the explanation clients; beside them, batches on a schedule at the
    target rate (the latency at that rate rather than at saturation); batches as fast as answered, alone and
    beside them; last, single events on the schedule beside them, last because a server that cannot keep up
    with them is still answering the requests the load generator gave up on when the phase ends."""
    return [("a", 0, 0, 0), ("x", args.explain_clients, 0, 0), ("px", args.explain_clients, args.batch_size, args.rate),
            ("ba", 0, args.batch_size, 0), ("bx", args.explain_clients, args.batch_size, 0),
            ("sx", args.explain_clients, 0, args.rate)]


def run_store(name: str, settings: dict[str, Any], home: Path, args: argparse.Namespace) -> dict[str, Any]:
    users, products = sample_ids(home)
    prefix = f"{USER_PREFIX}{int(time.time())}"
    print(f"== {name}", flush=True)
    proc, base = start_server(settings)
    try:
        wrk_events(base, products, f"{prefix}warm", 4, 3, 1)
        wrk_events(base, products, f"{prefix}warmb", 2, 2, 1, args.batch_size)
        phases = [phase(base, proc.pid, users, products, f"{prefix}{tag}", clients, args, batch, rate)
                  for tag, clients, batch, rate in phase_plan(args)]
        drain_s = drain_backlog(base)
    finally:
        proc.terminate()
        proc.wait(60)
    for p, (tag, *_) in zip(phases, phase_plan(args), strict=True):
        p["in_graph"] = count_in_graph(settings, f"{prefix}{tag}")
        p["lost"] = max(0, p["events"]["acknowledged"] - p["in_graph"])
    result = {"store": name, "duration_s": args.duration, "phases": phases, "backlog_drained_s": drain_s}
    print(json.dumps(result, indent=1), flush=True)
    return result


def parts() -> dict[str, Any]:
    """CPU per event of the two pieces behind the HTTP layer, in this process: the log's group commit (5000
    appends, 16 in flight) and the graph writer's batch write (batches of 100, 1000, 5000 into a fresh
    embedded store opened as the API opens it)."""
    import asyncio

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

        async def batches(n: int, size: int, in_flight: int) -> None:
            gate = asyncio.Semaphore(in_flight)

            async def one(b: int) -> None:
                async with gate:
                    await log.append_many_async([(f"b{b}-{i}", "P1", "view", i) for i in range(size)])

            await asyncio.gather(*(one(b) for b in range(n)))

        c0, t0 = cpu(), time.perf_counter()
        asyncio.run(batches(200, 100, 4))
        out["log_append_batches_of_100"] = {"events": 20_000,
                                            "per_s_wall": round(20_000 / (time.perf_counter() - t0)),
                                            "cpu_ms_per_event": round(1000 * (cpu() - c0) / 20_000, 4)}
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
    lines = ["| store | events | explanation clients | connections | acks/s | p50 ms | p99 ms | errors "
             "| server CPU ms / ack | explanations 200/s (503s) | acked / in graph | load avg (1 min) "
             "| other processes (cores) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["runs"]:
        for p in r["phases"]:
            e, x = p["events"], p["explain"]
            lines.append(f"| {r['store']} | {p['mode']} | {p['explain_clients']} | {p['connections']} "
                         f"| {e['acks_per_s']:,.0f} | {e['p50_ms']:.1f} | {e['p99_ms']:.1f} | {e['errors']} "
                         f"| {p['server_cpu_ms_per_ack']} | {x['ok_per_s']} ({x['answers'].get('503', 0)}) "
                         f"| {e['acknowledged']:,} / {p['in_graph']:,} "
                         f"| {p['loadavg_before'][0]} -> {p['loadavg_after'][0]} | {p['other_processes_cpu_cores']} |")
    return "\n".join(lines)


def graph_copy(home: Path) -> Path:
    """A copy of the home's embedded graph for one run: the run adds a user per event (100,000s), and a graph
    grown by earlier runs would make every run slower than the last."""
    copy = Path(tempfile.mkdtemp(prefix="events-graph-")) / "graph.lbug"
    for source in home.glob("graph.lbug*"):
        if source.is_file() and not source.name.endswith((".lock", ".wanted")):
            shutil.copy2(source, copy.with_name(source.name))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-events")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=100, help="events per POST /events/batch")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="connections posting batches")
    parser.add_argument("--rate", type=float, default=2000, help="events/s of the scheduled phases")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--explain-clients", type=int, default=8)
    parser.add_argument("--neo4j-uri", default=None, help="also run on this Neo4j (the sample is ingested)")
    parser.add_argument("--neo4j-user", default="neo4j")
    parser.add_argument("--neo4j-password", default=None)
    parser.add_argument("--neo4j-only", action="store_true", help="skip the embedded store (with --neo4j-uri)")
    parser.add_argument("--out", type=Path, default=RESULTS / "events.json")
    parser.add_argument("--parts-only", action="store_true", help="only the in-process parts (no server)")
    args = parser.parse_args()
    if args.neo4j_only and not args.neo4j_uri:
        parser.error("--neo4j-only needs --neo4j-uri")
    if args.parts_only:
        doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
        doc["parts"] = {"machine": machine(), **parts()}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        return
    if shutil.which("wrk") is None:
        raise SystemExit("bench/events.py needs wrk (Debian: apt-get install wrk)")
    vegeta()
    home = args.home.resolve()
    ensure_home(home, {"CARTOGRAPH_STORE_BACKEND": "embedded"})
    common = {"home": str(home), "bundle_watch_s": 0, "serve_threads": 1}
    runs = []
    if not args.neo4j_only:
        graph = graph_copy(home)
        try:
            embedded = {"store_backend": "embedded", "neo4j_uri": None, "embedded_path": str(graph)}
            runs.append(run_store("embedded", {**common, **embedded,
                                               "event_log_dir": tempfile.mkdtemp(prefix="events-")}, home, args))
        finally:
            shutil.rmtree(graph.parent, ignore_errors=True)
    if args.neo4j_uri:
        neo4j = {"store_backend": "neo4j", "neo4j_uri": args.neo4j_uri, "neo4j_user": args.neo4j_user,
                 "neo4j_password": args.neo4j_password}
        env = {"CARTOGRAPH_HOME": str(home), **{f"CARTOGRAPH_{k.upper()}": str(v) for k, v in neo4j.items()}}
        print(f"neo4j: {remove_bench_users({**common, **neo4j})} users of earlier runs deleted", flush=True)
        cartograph("ingest", str(ROOT / "data" / "sample"), "--no-progress", env=env)
        runs.append(run_store("neo4j", {**common, **neo4j, "event_log_dir": tempfile.mkdtemp(prefix="events-")},
                              home, args))
    doc = {"machine": machine(), "runs": runs, "parts": {"machine": machine(), **parts()},
           "note": "measured on a shared machine: see the load averages and other_processes_cpu_cores"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown(doc))


if __name__ == "__main__":
    main()
