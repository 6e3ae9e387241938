"""Serving benchmark: latency one request at a time, throughput at saturation, and the floor beside them.

    .venv/bin/python bench/serve.py --data-dir ../shared/data          # about 6 minutes on 2 cores

What it does:

1. A bundle trained on the full amazon-beauty (``--home``; made once with ``cartograph ingest`` and ``cartograph
   train --model kg_sasrec --epochs 3 --no-baselines`` when the home has none: a few epochs are enough for
   latency, which does not depend on the quality of the embeddings; with the sequence model every
   recommendation re-encodes the user's history, so that cost is in the figures), and a synthetic bundle of
   ``--synthetic-products`` random product embeddings (no graph: served from the bundle alone, recommendations
   only).
2. The floor: the bare ``(1 x d) @ (d x P)`` product the API makes (a float16 table, ``torch.mv``) plus top-10
   (``argpartition`` + sort) in this process, one thread, for both catalog sizes.
3. For each scenario, the API in its own process (``create_app`` under uvicorn, one worker) and ``wrk`` as the
   load generator in another: first one connection for ``--latency-seconds`` (service latency: p50 / p99),
   then ``--concurrency`` connections for ``--duration`` seconds (requests/s at saturation; the latencies
   there are mostly queueing, by Little's law, and are reported as such). Requests cycle through many users
   and, for search, through thousands of distinct queries built from product titles (so the query-embedding
   cache does not hide the MiniLM cost).

Writes ``bench/results/serve.json`` and ``bench/results/serve.md``. Needs ``wrk`` (``apt-get install -y wrk``).
The machine's load average is recorded: other work on the same cores inflates every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from apiserver import WRK_DONE, free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLI = str(Path(sys.executable).parent / "cartograph")

WRK_SCRIPT = r"""
local paths = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do table.insert(paths, line) end
  n = #paths
  i = math.random(n)
end
request = function()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end
"""


# -- preparation ------------------------------------------------------------------------------------------
def ensure_beauty_bundle(home: Path, data_dir: Path, model: str, epochs: int, text_cache: Path | None) -> None:
    if (home / "artifacts" / "current").is_file():
        return
    env = {**os.environ, "CARTOGRAPH_HOME": str(home), "CARTOGRAPH_STORE_BACKEND": "embedded"}
    print(f"preparing {home}: ingest amazon-beauty, train {model} {epochs} epochs", flush=True)
    if text_cache is not None and text_cache.is_dir() and not (home / "cache" / "text").exists():
        shutil.copytree(text_cache, home / "cache" / "text")  # the same MiniLM vectors, not encoded again
    subprocess.run([CLI, "ingest", str(data_dir / "amazon-beauty"), "--no-progress"], env=env, check=True)
    subprocess.run([CLI, "train", "--model", model, "--epochs", str(epochs), "--no-baselines"], env=env, check=True)


def ensure_synthetic_bundle(home: Path, products: int, users: int, dim: int) -> None:
    from gnn.bundle import write_bundle
    from gnn.config import TrainConfig

    if (home / "artifacts" / "current").is_file():
        return
    rng = np.random.default_rng(0)
    write_bundle(home / "artifacts", config=TrainConfig(model="bpr_mf", hidden_channels=dim),
                 snapshot_id="synthetic", metrics={},
                 id_maps={"user": [f"u{i}" for i in range(users)], "product": [f"p{i}" for i in range(products)]},
                 user_embeddings=rng.normal(size=(users, dim)).astype(np.float32),
                 product_embeddings=rng.normal(size=(products, dim)).astype(np.float32))


# -- the floor --------------------------------------------------------------------------------------------
def floor(num_products: int, dim: int, k: int = 10, iterations: int = 3000) -> dict[str, float]:
    """The product the API makes (:meth:`api.serving.index.ServingIndex.model_scores`: a float16 table read by
    ``torch.mv``, float32 scores) + top-k, in this process, one thread."""
    import torch

    rng = np.random.default_rng(1)
    matrix = torch.from_numpy(rng.normal(size=(num_products, dim)).astype(np.float16))
    queries = rng.normal(size=(64, dim)).astype(np.float16)
    times = []
    torch.set_num_threads(1)
    for it in range(iterations):
        start = time.perf_counter()
        scores = torch.mv(matrix, torch.from_numpy(queries[it % 64])).float().numpy()
        top = np.argpartition(-scores, k)[:k]
        top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"products": num_products, "dim": dim, "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3)}


# -- the server -------------------------------------------------------------------------------------------
def run_server(home: Path, port: int, synthetic: bool) -> None:
    """Server mode (a child process): the real app on ``home``, uvicorn, one worker."""
    import uvicorn

    from api.main import create_app
    from kg.config import Settings

    settings = Settings(home=home, store_backend="embedded", neo4j_uri=None, serve_threads=1)
    loader = None
    if synthetic:
        from api.serving.catalog import catalog_from_bundle
        from api.serving.index import build_index
        from gnn.bundle import load_bundle

        def loader(s: Settings, store: Any) -> Any:
            bundle = load_bundle(s.artifacts_dir)
            return build_index(bundle, catalog_from_bundle(bundle), text_encoder=None)

    # asyncio + h11, pinned: uvloop + httptools (uvicorn[standard]) made no clear difference in an A/B run
    # on the busy development machine (c=1 slightly faster, c=32 p99 worse), so they are not dependencies.
    uvicorn.run(create_app(settings, loader=loader), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, loop="asyncio", http="h11")


def start_server(home: Path, synthetic: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, __file__, "--server", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(cmd + (["--synthetic"] if synthetic else []))
    return proc, wait_ready(proc, f"http://127.0.0.1:{port}")


def wrk(base: str, paths: list[str], connections: int, seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script, path_file = Path(tmp) / "bench.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT + WRK_DONE)
        path_file.write_text("\n".join(paths) + "\n")
        threads = min(2, connections)
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", str(script), base, "--", str(path_file)],
                             capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    result["req_per_s"] = round(result["requests"] / result["seconds"], 1)
    result["connections"] = connections
    return result


def recommendation_paths(home: Path, n: int = 5000) -> list[str]:
    from gnn.bundle import load_bundle

    users = load_bundle(home / "artifacts").id_maps["user"]
    rng = random.Random(0)
    return [f"/users/{urllib.parse.quote(rng.choice(users))}/recommendations?k=10" for _ in range(n)]


def search_paths(home: Path, n: int = 6000) -> list[str]:
    """Distinct queries of 2-3 words from product titles; half of them personalised."""
    from gnn.bundle import load_bundle
    from kg.config import Settings
    from kg.store import open_store

    with open_store(Settings(home=home, store_backend="embedded", neo4j_uri=None), read_only=True) as store:
        titles = [r["t"] for r in store.query("MATCH (p:Product) WHERE p.title IS NOT NULL RETURN p.title AS t")]
    users = load_bundle(home / "artifacts").id_maps["user"]
    rng = random.Random(0)
    queries: set[str] = set()
    while len(queries) < n:
        words = [w for w in rng.choice(titles).lower().split() if w.isalpha() and len(w) > 2]
        if len(words) >= 2:
            start = rng.randrange(0, max(1, len(words) - 2))
            queries.add(" ".join(words[start:start + rng.choice((2, 3))]))
    paths = []
    for i, q in enumerate(sorted(queries)):
        user = f"&user_id={urllib.parse.quote(rng.choice(users))}" if i % 2 else ""
        paths.append(f"/search?k=10&q={urllib.parse.quote(q)}{user}")
    rng.shuffle(paths)
    return paths


def scenario(name: str, home: Path, paths: list[str], synthetic: bool, args: argparse.Namespace
             ) -> dict[str, Any]:
    print(f"== {name}: {len(paths)} distinct requests", flush=True)
    proc, base = start_server(home, synthetic)
    try:
        wrk(base, paths[:200], 1, 3)  # warm-up (also fills nothing: the paths after it are new)
        single = wrk(base, paths[200:], 1, args.latency_seconds)
        print(f"   concurrency 1: {single}", flush=True)
        saturated = wrk(base, list(reversed(paths)), args.concurrency, args.duration)
        print(f"   concurrency {args.concurrency}: {saturated}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"name": name, "concurrency_1": single, "saturation": saturated}


# -- report -----------------------------------------------------------------------------------------------
def markdown(doc: dict[str, Any]) -> str:
    floors = {f["products"]: f for f in doc["floor"]}
    lines = [
        "| scenario | products | p50 ms (c=1) | p99 ms (c=1) | floor p50 / p99 ms | vs floor (p50, p99) | "
        f"req/s (c={doc['config']['concurrency']}) | p50 / p99 ms at saturation | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in doc["scenarios"]:
        f = floors[s["products"]] if s["kind"] == "recommendations" else None
        one, sat = s["concurrency_1"], s["saturation"]
        floor_txt = f"{f['p50_ms']:.3f} / {f['p99_ms']:.3f}" if f else "-"
        ratio = f"{one['p50_ms'] / f['p50_ms']:.1f}x, {one['p99_ms'] / f['p99_ms']:.1f}x" if f else "-"
        lines.append(
            f"| {s['name']} | {s['products']:,} | {one['p50_ms']:.2f} | {one['p99_ms']:.2f} | {floor_txt} | {ratio} "
            f"| {sat['req_per_s']:,.0f} | {sat['p50_ms']:.1f} / {sat['p99_ms']:.1f} "
            f"| {one['non_2xx'] + sat['non_2xx']} |")
    load = doc["machine"]["load_average_at_start"]
    lines.append("")
    lines.append(f"Load average when the run started: {load[0]:.1f} (1 min) on {doc['machine']['cpus']} cores; "
                 "the server, wrk and everything else running shared them.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default="kg_sasrec", help="the model the beauty bundle serves (kg_sasrec: "
                        "what `cartograph train` chooses on amazon-beauty; each request re-encodes the history)")
    parser.add_argument("--home", type=Path, help="default: var/bench-serve/amazon-beauty-<model>")
    parser.add_argument("--text-cache", type=Path, default=ROOT / "var" / "bench-beauty" / "cache" / "text",
                        help="a MiniLM text cache to copy into a new home (bench/quality.py's)")
    parser.add_argument("--synthetic-home", type=Path, default=ROOT / "var" / "bench-serve" / "synthetic")
    parser.add_argument("--synthetic-products", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=int, default=30, help="seconds at saturation")
    parser.add_argument("--latency-seconds", type=int, default=15, help="seconds at concurrency 1")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve.json")
    parser.add_argument("--only", help="run only the scenarios whose name contains this text")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        run_server(args.home, args.port, args.synthetic)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: install it (apt-get install -y wrk)")
    load = os.getloadavg()
    args.home = args.home or ROOT / "var" / "bench-serve" / f"amazon-beauty-{args.model}"
    ensure_beauty_bundle(args.home, args.data_dir, args.model, args.epochs, args.text_cache)
    from gnn.bundle import load_bundle

    beauty = load_bundle(args.home / "artifacts")
    dim = int(beauty.product_embeddings.shape[1])
    synthetic_name = f"recommendations, synthetic {args.synthetic_products // 1000}k"
    # The 100k-product bundle takes minutes to build: only when its scenario runs.
    with_synthetic = not args.only or args.only in synthetic_name
    if with_synthetic:
        ensure_synthetic_bundle(args.synthetic_home, args.synthetic_products, 10_000, dim)
    n_beauty = int(beauty.product_embeddings.shape[0])
    from gnn.history import HistoryEncoder

    # The API's float16 table keeps only the columns a user vector can be non-zero in (ServingIndex.scored_width).
    encoder = HistoryEncoder.from_bundle(beauty, beauty.product_embeddings)
    scored = encoder.model.scored_width() if encoder is not None else dim
    floors = [floor(n_beauty, scored), *([floor(args.synthetic_products, dim)] if with_synthetic else [])]
    print(f"floor: {floors}", flush=True)
    runs = [
        ("recommendations, amazon-beauty", "recommendations", args.home, recommendation_paths(args.home), False,
         n_beauty),
        ("search, amazon-beauty", "search", args.home, search_paths(args.home), False, n_beauty),
    ]
    if with_synthetic:
        runs.append((synthetic_name, "recommendations", args.synthetic_home, recommendation_paths(args.synthetic_home),
                     True, args.synthetic_products))
    scenarios = []
    for name, kind, home, paths, synthetic, products in runs:
        if args.only and args.only not in name:
            continue
        result = scenario(name, home, paths, synthetic, args)
        scenarios.append({**result, "kind": kind, "products": products})
    doc = {
        "benchmark": "bench/serve.py",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_start": [round(x, 2) for x in load],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "config": {"concurrency": args.concurrency, "duration_s": args.duration,
                   "latency_seconds": args.latency_seconds, "server": "uvicorn, 1 worker, 1 torch/BLAS thread",
                   "serve_float16": os.environ.get("CARTOGRAPH_SERVE_FLOAT16", "true"),
                   "load_generator": "wrk (separate process)", "beauty_bundle": beauty.version,
                   "beauty_epochs": beauty.config.epochs, "model": beauty.config.model},
        "floor": floors,
        "scenarios": scenarios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown(doc)
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
