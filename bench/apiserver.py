"""What bench/events.py and bench/soak.py share: a prepared home, the API in its own process, its /metrics.

The home (``var/bench-events`` by default) is the shipped sample, ingested and trained for two epochs by
``cartograph quickstart`` the first time (a few minutes on 2 cores); later runs reuse it. Each server gets a
fresh event log directory, so every run starts with an empty log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLI = [sys.executable, "-m", "cartograph"]  # this checkout's code (PYTHONPATH below), not an installed one

SERVER = r"""
import sys, json, uvicorn
from api.main import create_app
from kg.config import Settings
settings = Settings(**json.loads(sys.argv[1]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False)  # as `cartograph serve`: uvloop and httptools (auto) where installed
"""


#: wrk's ``done`` hook: one ``RESULT {json}`` line with the latency percentiles and error counts.
WRK_DONE = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "requests": %d, "seconds": %.3f, ' ..
    '"non_2xx": %d, "connect_errors": %d, "read_errors": %d, "timeouts": %d}\n',
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.timeout))
end
"""


def ensure_home(home: Path, env: dict[str, str]) -> None:
    if (home / "artifacts" / "current").is_file():
        return
    print(f"preparing {home}: quickstart on the shipped sample (2 epochs)", flush=True)
    cartograph("quickstart", "--no-serve", "--no-extract", "--no-progress", "--epochs", "2",
               env={**env, "CARTOGRAPH_HOME": str(home)})


def cartograph(*args: str, env: dict[str, str]) -> None:
    subprocess.run([*CLI, *args], env={**os.environ, **env, "PYTHONPATH": pythonpath()}, cwd=ROOT, check=True)


def pythonpath() -> str:
    """This checkout first, then whatever PYTHONPATH already held."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(settings: dict[str, Any], env: dict[str, str] | None = None,
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """The real app (``create_app``) under uvicorn, one worker, in a child process; waits for /ready."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(settings), str(port)], cwd=ROOT,
                            env={**os.environ, **(env or {}), "PYTHONPATH": pythonpath()})
    return proc, wait_ready(proc, f"http://127.0.0.1:{port}")


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout_s: float = 600) -> str:
    """``base`` once the server at it answers /ready with ready (10 minutes at most: a first start may build
    the text cache); raises if the process exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/ready", timeout=2) as r:
                if json.load(r).get("ready"):
                    return base
        except OSError:
            pass
        time.sleep(1)
    proc.terminate()
    raise RuntimeError(f"server not ready in {timeout_s:.0f} s")


def metric(base: str, name: str) -> float:
    """The value of an unlabelled metric of the server's /metrics (0 when absent)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def sample_ids(home: Path) -> tuple[list[str], list[str]]:
    """(users, products) of the bundle the home serves."""
    from gnn.bundle import load_bundle

    bundle = load_bundle(home / "artifacts")
    return list(bundle.id_maps["user"]), list(bundle.id_maps["product"])


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "loadavg": [round(x, 2) for x in
                                                                                   os.getloadavg()]}
