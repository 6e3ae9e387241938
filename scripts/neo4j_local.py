#!/usr/bin/env python3
"""A local Neo4j 5.26 Community server from Maven jars: no Docker, no tarball, one command.

    scripts/neo4j-local start      # fetch the jars once (Maven), start on 127.0.0.1, wait until Cypher answers
    scripts/neo4j-local status     # running or not, with its addresses
    eval "$(scripts/neo4j-local env)"   # CARTOGRAPH_NEO4J_URI / _USER / _PASSWORD for the cartograph command
    scripts/neo4j-local stop       # clean shutdown (SIGTERM, then SIGKILL after --timeout)

The jars come from ``neo4j-local/pom.xml`` (``mvn dependency:copy-dependencies`` into ``neo4j-local/lib/``,
git-ignored; about 135 MB, 15 s on a fast link). The server's home, configuration, data and logs live under
``var/neo4j/`` (``--home``); it listens on 127.0.0.1 only, Bolt on 7687 and HTTP (Neo4j Browser at
``/browser/``) on 7474 by default, or on free ports with ``--bolt-port 0 --http-port 0``. Authentication is
on: the user ``neo4j`` gets the password ``--password`` (default ``$NEO4J_LOCAL_PASSWORD`` or
``cartograph-local``) when the home is first created, as the Docker image does with ``NEO4J_AUTH``.

Standard library only, and it imports nothing from the project: it runs with any Python 3.11 before the
project is installed. Needs Java 17 or 21 (``java``) and, for the first fetch, Maven (``mvn``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "neo4j-local" / "pom.xml"
LIB = ROOT / "neo4j-local" / "lib"
STAMP = LIB / ".pom.sha256"
DEFAULT_HOME = ROOT / "var" / "neo4j"
DEFAULT_PASSWORD = "cartograph-local"
USER = "neo4j"

# What Neo4j's own launcher passes (bin/neo4j, conf/neo4j.conf's server.jvm.additional), less the
# diagnostics: the page cache needs the add-opens to use direct buffers without a fallback copy.
JVM_OPTIONS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]


class Missing(RuntimeError):
    """A tool or file this command needs is not there; the message says what to install."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- tools


def java_command() -> str:
    java = shutil.which("java")
    if java is None:
        raise Missing(
            "Java is not installed: Neo4j 5.26 needs Java 17 or 21 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)', done.stderr + done.stdout)
    major = int(found.group(1)) if found else 0
    if major not in (17, 21):
        raise Missing(f"{java} is Java {major or '?'}: Neo4j 5.26 needs Java 17 or 21.")
    return java


def pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def fetched() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == pom_digest()


def fetch(force: bool = False) -> None:
    """The server's jars into neo4j-local/lib/, once per version of the pom."""
    if fetched() and not force:
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Missing(
            "Maven is not installed and the Neo4j jars are not fetched yet (neo4j-local/lib/): "
            "install Maven (Debian/Ubuntu: apt-get install maven) and run `scripts/neo4j-local fetch`."
        )
    if LIB.exists():
        shutil.rmtree(LIB)
    say(f"fetching Neo4j jars with Maven into {LIB.relative_to(ROOT)}/ ...")
    started = time.monotonic()
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(POM)]
    cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={LIB}"]
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise Missing(f"`{' '.join(cmd)}` failed (exit {done.returncode}); see Maven's output above.")
    size = sum(p.stat().st_size for p in LIB.glob("*.jar"))
    STAMP.write_text(pom_digest() + "\n")
    say(f"fetched {len(list(LIB.glob('*.jar')))} jars, {size / 1e6:.0f} MB, in {time.monotonic() - started:.0f} s")


def classpath() -> str:
    return str(LIB / "*")


# ------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def state_file(home: Path) -> Path:
    return home / "run.json"


def read_state(home: Path) -> dict[str, object] | None:
    try:
        return json.loads(state_file(home).read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def running(home: Path) -> dict[str, object] | None:
    state = read_state(home)
    if state and alive(int(state["pid"])):  # type: ignore[call-overload]
        return state
    return None


def write_config(home: Path, bolt_port: int, http_port: int, heap: str, pagecache: str) -> None:
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    (home / "plugins").mkdir(exist_ok=True)
    (conf / "neo4j.conf").write_text(
        "# Written by scripts/neo4j-local on every start; edit the script, not this file.\n"
        "server.default_listen_address=127.0.0.1\n"
        "server.default_advertised_address=127.0.0.1\n"
        f"server.bolt.listen_address=127.0.0.1:{bolt_port}\n"
        f"server.bolt.advertised_address=127.0.0.1:{bolt_port}\n"
        "server.bolt.enabled=true\n"
        f"server.http.listen_address=127.0.0.1:{http_port}\n"
        f"server.http.advertised_address=127.0.0.1:{http_port}\n"
        "server.http.enabled=true\n"
        "server.https.enabled=false\n"
        "dbms.security.auth_enabled=true\n"
        "dbms.usage_report.enabled=false\n"
        # Neo4j Browser: no telemetry, no banner asking for it.
        "client.allow_telemetry=false\n"
        f"server.directories.data={home / 'data'}\n"
        f"server.directories.logs={home / 'logs'}\n"
        f"server.directories.plugins={home / 'plugins'}\n"
        f"server.memory.heap.initial_size={heap}\n"
        f"server.memory.heap.max_size={heap}\n"
        f"server.memory.pagecache.size={pagecache}\n"
        # Transaction logs: keep little, this is a development server.
        "db.tx_log.rotation.retention_policy=2 files\n"
        "db.tx_log.rotation.size=64M\n"
    )


def set_initial_password(java: str, home: Path, password: str) -> None:
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    cmd = [java, "-cp", classpath(), "org.neo4j.cli.AdminTool", "dbms", "set-initial-password", password]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"set-initial-password failed: {done.stdout}{done.stderr}")


def cypher_answers(http_port: int, password: str) -> bool:
    """True once the default database runs a query over HTTP with the credentials (Bolt is up by then)."""
    body = json.dumps({"statements": [{"statement": "RETURN 1"}]}).encode()
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/db/neo4j/tx/commit",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            answer = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return not answer.get("errors")


def start(args: argparse.Namespace) -> int:
    home: Path = args.home
    state = running(home)
    if state:
        say(f"Neo4j already running (pid {state['pid']}): {state['bolt_uri']}")
        return 0
    java = java_command()
    fetch()
    bolt_port = args.bolt_port or free_port()
    http_port = args.http_port or free_port()
    for name, port in (("Bolt", bolt_port), ("HTTP", http_port)):
        if port_in_use(port):
            flag = f"--{name.lower()}-port"
            raise Missing(f"the {name} port {port} is taken on 127.0.0.1: choose another ({flag} N, 0: any)")
    first = not (home / "data" / "dbms").exists()
    write_config(home, bolt_port, http_port, args.heap, args.pagecache)
    if first:
        set_initial_password(java, home, args.password)
    log = (home / "logs" / "console.log").open("ab")
    cmd = [
        java,
        *JVM_OPTIONS,
        f"-Xms{args.heap}",
        f"-Xmx{args.heap}",
        "-cp",
        classpath(),
        "org.neo4j.server.CommunityEntryPoint",
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]
    started = time.monotonic()
    # A lower CPU priority (nice) for the whole JVM: this server shares the machine with the API, whose request path
    # (event acknowledgements above all) must not wait behind the database's work for explanations
    # (bench/README.md, Events: p99 25.3 -> 15.8 ms with graph concurrency 1 on 2 cores).
    niceness = args.nice
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
    state = {
        "pid": proc.pid,
        "bolt_port": bolt_port,
        "http_port": http_port,
        "bolt_uri": f"bolt://127.0.0.1:{bolt_port}",
        "browser_url": f"http://127.0.0.1:{http_port}/browser/",
        "user": USER,
        "password": args.password,
        "home": str(home),
    }
    state_file(home).write_text(json.dumps(state, indent=2) + "\n")
    os.chmod(state_file(home), 0o600)
    while not cypher_answers(http_port, args.password):
        if proc.poll() is not None:
            say(f"Neo4j exited with {proc.returncode} while starting; last lines of {home / 'logs'}:")
            for name in ("console.log", "neo4j.log"):
                path = home / "logs" / name
                if path.exists():
                    say("\n".join(path.read_text(errors="replace").splitlines()[-15:]))
            return 1
        if time.monotonic() - started > args.timeout:
            say(f"Neo4j did not answer within {args.timeout:.0f} s; stopping it (logs: {home / 'logs'})")
            stop_pid(proc.pid, 30)
            return 1
        time.sleep(0.5)
    say(
        f"Neo4j 5.26 up in {time.monotonic() - started:.0f} s (pid {proc.pid}): {state['bolt_uri']} "
        f"user {USER}; Browser {state['browser_url']}; data and logs under {home}"
    )
    return 0


def stop_pid(pid: int, timeout: float) -> bool:
    """SIGTERM (Neo4j checkpoints and exits), then SIGKILL after `timeout` seconds. True if it was running."""
    if not alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        say(f"Neo4j (pid {pid}) still running after {timeout:.0f} s; killing it")
        os.kill(pid, signal.SIGKILL)
    return True


def stop(args: argparse.Namespace) -> int:
    state = read_state(args.home)
    if not state or not stop_pid(int(state["pid"]), args.timeout):  # type: ignore[call-overload]
        say("Neo4j is not running")
        return 0
    say(f"Neo4j stopped (pid {state['pid']})")
    return 0


def status(args: argparse.Namespace) -> int:
    state = running(args.home)
    if state is None:
        print("stopped")
        return 3
    print(f"running pid {state['pid']} bolt {state['bolt_uri']} browser {state['browser_url']} home {state['home']}")
    return 0


def env(args: argparse.Namespace) -> int:
    state = running(args.home)
    if state is None:
        say("Neo4j is not running: scripts/neo4j-local start")
        return 3
    prefix = "CARTOGRAPH_TEST_NEO4J" if args.test else "CARTOGRAPH_NEO4J"
    print(f"export {prefix}_URI={state['bolt_uri']}")
    print(f"export {prefix}_USER={state['user']}")
    print(f"export {prefix}_PASSWORD={state['password']}")
    if args.test:
        print(f"export {prefix}_HTTP_URL=http://127.0.0.1:{state['http_port']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neo4j-local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("NEO4J_LOCAL_HOME", DEFAULT_HOME)))
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="fetch if needed, start, wait until Cypher answers")
    p_start.add_argument("--bolt-port", type=int, default=7687, help="0: any free port")
    p_start.add_argument("--http-port", type=int, default=7474, help="0: any free port")
    p_start.add_argument("--password", default=os.environ.get("NEO4J_LOCAL_PASSWORD", DEFAULT_PASSWORD))
    p_start.add_argument("--heap", default="1g")
    p_start.add_argument("--pagecache", default="512m")
    p_start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the server")
    p_start.add_argument("--nice", type=int, default=10, choices=range(0, 20), metavar="0-19",
                         help="CPU priority below the API's (os.nice increment; 0: the same as the caller's)")
    p_stop = sub.add_parser("stop", help="stop the server started from --home")
    p_stop.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("status", help="running or stopped (exit 3)")
    p_env = sub.add_parser("env", help="print export lines for the running server")
    p_env.add_argument("--test", action="store_true", help="CARTOGRAPH_TEST_NEO4J_* (the test suite's) names")
    p_fetch = sub.add_parser("fetch", help="only fetch the jars (Maven)")
    p_fetch.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    args.home = args.home.resolve()
    try:
        if args.command == "start":
            return start(args)
        if args.command == "stop":
            return stop(args)
        if args.command == "status":
            return status(args)
        if args.command == "env":
            return env(args)
        java_command()
        fetch(force=args.force)
        return 0
    except Missing as e:
        say(f"neo4j-local: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
