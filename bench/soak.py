"""Soak: the API under a steady mixed load for minutes; errors and the server's memory over time.

    .venv/bin/python bench/soak.py --minutes 10 --rate 200        # the target run (an idle machine)
    .venv/bin/python bench/soak.py --minutes 2 --rate 100         # a short run: proves the script, not the target

Open loop: requests are started at ``--rate`` per second whatever the answers take (a slow server does not slow
the load down, as real traffic would not), mixed as recommendations 35%, search 20%, similar items 20%,
events 20%, explanations 5% (random users, products and two-word queries from product titles; each event a
new (user, product) pair of the catalog). The API runs in its own process (``bench/apiserver.py``).

Every ``--interval`` seconds it records: requests started and answered, errors (5xx other than a shed
explanation, 4xx, timeouts, refused connections), explanations shed (503 with Retry-After: the graph-slot
limit doing its job, not an error), p50/p99 latency per kind, the server's resident memory (RSS), and the two
things that grow with the load by design, so that RSS growth can be told from a leak: the users whose recent
events the server holds (its ``cartograph_recent_users`` gauge, bounded by ``--recent-max-users``) and the size
of the embedded graph, which the events' writer adds users and edges to (its pages are cached by the engine,
whose page cache the API bounds: ``CARTOGRAPH_SERVING_BUFFER_POOL_MB``).
Writes ``bench/results/soak.json`` and prints a markdown table; the load average is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from apiserver import RESULTS, ROOT, ensure_home, machine, sample_ids, start_server

#: A search answered from BM25 and the graph alone under load (its ``degraded`` field): an answer, not an error.
DEGRADED = "degraded"
#: What is read off the server at the end of each interval (memory, graph size, load).
Probe = dict[str, Any]
MIX = {"recommend": 0.35, "search": 0.20, "similar": 0.20, "events": 0.20, "explain": 0.05}


def search_queries(home: Path, n: int = 2000) -> list[str]:
    from kg.config import Settings
    from kg.store import open_store

    with open_store(Settings(home=home, store_backend="embedded", neo4j_uri=None), read_only=True) as store:
        titles = [r["t"] for r in store.query("MATCH (p:Product) WHERE p.title IS NOT NULL RETURN p.title AS t")]
    rng = random.Random(0)
    queries = []
    for _ in range(n):
        words = [w for w in rng.choice(titles).lower().split() if w.isalpha() and len(w) > 2]
        if len(words) >= 2:
            start = rng.randrange(0, len(words) - 1)
            queries.append(" ".join(words[start:start + 2]))
    return queries


class Load:
    """Builds one request of a kind: (method, path, JSON body or None)."""

    def __init__(self, users: list[str], products: list[str], queries: list[str]) -> None:
        self.users, self.products, self.queries = users, products, queries
        self.rng = random.Random(1)
        self.counter = 0

    def request(self, kind: str) -> tuple[str, str, dict[str, Any] | None]:
        q = urllib.parse.quote
        user, product = q(self.rng.choice(self.users)), q(self.rng.choice(self.products))
        if kind == "recommend":
            return "GET", f"/users/{user}/recommendations?k=10", None
        if kind == "search":
            return "GET", f"/search?k=10&q={q(self.rng.choice(self.queries))}", None
        if kind == "similar":
            return "GET", f"/products/{product}/similar?k=10", None
        if kind == "explain":
            return "GET", f"/users/{user}/explanations/{product}", None
        self.counter += 1
        return "POST", "/events", {"user_id": f"soak-{self.counter}", "product_id": self.rng.choice(self.products),
                                   "type": self.rng.choice(("view", "cart", "purchase"))}


class Window:
    """What one interval saw."""

    def __init__(self) -> None:
        self.started = 0
        self.outcomes: dict[str, dict[str, int]] = {}
        self.latencies: dict[str, list[float]] = {}

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        self.outcomes.setdefault(kind, {}).setdefault(outcome, 0)
        self.outcomes[kind][outcome] += 1
        self.latencies.setdefault(kind, []).append(seconds)

    def summary(self, t: float, probe: Probe) -> dict[str, Any]:
        """Outcomes of the requests started in this interval (call once all of them have finished)."""
        answers = ("ok", "shed", DEGRADED)
        errors = sum(n for kind in self.outcomes.values() for o, n in kind.items() if o not in answers)
        shed = sum(kind.get("shed", 0) for kind in self.outcomes.values())
        answered = sum(sum(kind.values()) for kind in self.outcomes.values())
        latency = {}
        for kind, values in self.latencies.items():
            values.sort()
            latency[kind] = {"p50_ms": round(values[len(values) // 2] * 1000, 1),
                             "p99_ms": round(values[int(len(values) * 0.99)] * 1000, 1)}
        return {"t_s": round(t), "started": self.started, "answered": answered, "errors": errors, "shed": shed,
                **probe, "outcomes": self.outcomes, "latency": latency}


async def one(session: aiohttp.ClientSession, base: str, kind: str, request: tuple[str, str, Any],
              window: Window) -> None:
    method, path, body = request
    start = time.perf_counter()
    try:
        async with session.request(method, base + path, json=body) as response:
            payload = await response.read()
            status = response.status
            shed = status == 503 and kind == "explain" and "Retry-After" in response.headers
            outcome = "ok" if status < 300 else "shed" if shed else str(status)
            if outcome == "ok" and kind == "search" and json.loads(payload).get("degraded"):
                outcome = DEGRADED  # answered without dense retrieval: the text model was busy
    except (TimeoutError, aiohttp.ClientError) as e:
        outcome = type(e).__name__
    window.record(kind, outcome, time.perf_counter() - start)


def graph_mb(path: Path) -> float:
    """Size of the embedded graph: its file and its write-ahead log."""
    files = [path, path.with_name(path.name + ".wal")]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)


async def recent_users(session: aiohttp.ClientSession, base: str) -> int | None:
    """The server's ``cartograph_recent_users`` gauge (None when /metrics does not answer)."""
    try:
        async with session.get(base + "/metrics") as response:
            text = await response.text()
    except (TimeoutError, aiohttp.ClientError):
        return None
    for line in text.splitlines():
        if line.startswith("cartograph_recent_users "):
            return int(float(line.split()[1]))
    return None


async def probe(session: aiohttp.ClientSession, base: str, server: psutil.Process, graph: Path) -> Probe:
    return {"rss_mb": round(server.memory_info().rss / 2**20, 1), "graph_mb": graph_mb(graph),
            "recent_users": await recent_users(session, base), "loadavg_1m": round(os.getloadavg()[0], 2)}


async def soak(base: str, pid: int, graph: Path, load: Load, args: argparse.Namespace) -> list[dict[str, Any]]:
    server = psutil.Process(pid)
    kinds, weights = list(MIX), list(MIX.values())
    rng = random.Random(2)
    closed: list[tuple[float, Probe, Window]] = []  # (t, server memory and load, requests started)
    window = Window()
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=256)) as session:
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        next_report = start + args.interval
        sent = 0
        while (now := time.monotonic()) < start + args.minutes * 60:
            due = int((now - start) * args.rate) - sent  # open loop: catch up to the schedule
            for _ in range(due):
                kind = rng.choices(kinds, weights)[0]
                task = asyncio.create_task(one(session, base, kind, load.request(kind), window))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                window.started += 1
            sent += due
            if now >= next_report:
                closed.append((now - start, await probe(session, base, server, graph), window))
                print(json.dumps({"t_s": round(now - start), "started": window.started, **closed[-1][1]}),
                      flush=True)
                window = Window()
                next_report += args.interval
            await asyncio.sleep(0.005)
        closed.append((time.monotonic() - start, await probe(session, base, server, graph), window))
        await asyncio.gather(*tasks)  # each request is counted in the interval it started in
    return [w.summary(t, p) for t, p, w in closed]


def slope(timeline: list[dict[str, Any]], key: str = "rss_mb") -> float | None:
    """Least-squares growth of ``key`` (default the server's RSS) over ``timeline``, per minute (None: fewer than
    2 points with a value)."""
    points = [(w["t_s"] / 60, w[key]) for w in timeline if w.get(key) is not None]
    if len(points) < 2:
        return None
    t = [x for x, _ in points]
    r = [y for _, y in points]
    mt, mr = sum(t) / len(t), sum(r) / len(r)
    den = sum((x - mt) ** 2 for x in t)
    return round(sum((x - mt) * (y - mr) for x, y in zip(t, r, strict=True)) / den, 3) if den else None


def markdown(doc: dict[str, Any]) -> str:
    t = doc["totals"]
    return "\n".join([
        "| minutes | rate req/s | requests | errors | explanations shed | searches degraded | RSS start MB "
        "| RSS end MB | RSS MB/min, second half | graph MB/min, second half | recent-event users, end "
        "| load avg (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {doc['minutes']} | {doc['rate']} | {t['answered']:,} | {t['errors']} | {t['shed']} "
        f"| {t.get('searches_degraded', '-')} | {t['rss_first_mb']} | {t['rss_last_mb']} "
        f"| {t.get('rss_mb_per_min_second_half', '-')} | {t.get('graph_mb_per_min_second_half', '-')} "
        f"| {t.get('recent_users_last', '-')} | {t['loadavg_1m_min']} - {t['loadavg_1m_max']} |"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-events")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=10, help="seconds before a request counts as an error")
    parser.add_argument("--recent-max-users", type=int, default=None,
                        help="the server's CARTOGRAPH_RECENT_MAX_USERS (default: the setting's, 100,000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args()
    home = args.home.resolve()
    ensure_home(home, {"CARTOGRAPH_STORE_BACKEND": "embedded"})
    users, products = sample_ids(home)
    load = Load(users, products, search_queries(home))
    settings = {"home": str(home), "store_backend": "embedded", "neo4j_uri": None, "bundle_watch_s": 0,
                "serve_threads": 1, "event_log_dir": tempfile.mkdtemp(prefix="soak-events-")}
    if args.recent_max_users is not None:
        settings["recent_max_users"] = args.recent_max_users
    proc, base = start_server(settings)
    try:
        timeline = asyncio.run(soak(base, proc.pid, home / "graph.lbug", load, args))
    finally:
        proc.terminate()
        proc.wait(60)
    rss = [w["rss_mb"] for w in timeline]
    second_half = timeline[len(timeline) // 2:]
    loads = [w["loadavg_1m"] for w in timeline]
    totals = {"answered": sum(w["answered"] for w in timeline), "errors": sum(w["errors"] for w in timeline),
              "shed": sum(w["shed"] for w in timeline), "rss_first_mb": rss[0], "rss_last_mb": rss[-1],
              "rss_max_mb": max(rss), "loadavg_1m_min": min(loads), "loadavg_1m_max": max(loads),
              "searches_degraded": sum(w["outcomes"].get("search", {}).get(DEGRADED, 0) for w in timeline),
              "rss_mb_per_min_second_half": slope(second_half),
              "graph_mb_first": timeline[0]["graph_mb"], "graph_mb_last": timeline[-1]["graph_mb"],
              "graph_mb_per_min_second_half": slope(second_half, "graph_mb"),
              "recent_users_last": timeline[-1]["recent_users"],
              "recent_users_per_min_second_half": slope(second_half, "recent_users")}
    doc = {"machine": machine(), "minutes": args.minutes, "rate": args.rate, "mix": MIX,
           "recent_max_users": args.recent_max_users, "totals": totals, "timeline": timeline}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown(doc))


if __name__ == "__main__":
    main()
