"""Shared fixtures. The ``store`` fixture is parametrised over every backend (see test_store.py).

Where the Neo4j half gets its server, first that answers:

1. ``CARTOGRAPH_TEST_NEO4J_URI`` (with ``_USER``, ``_PASSWORD``): a running server, e.g. the one
   ``scripts/neo4j-local start`` starts (``eval "$(scripts/neo4j-local env --test)"``; ``.ci/run`` does this);
2. a Docker engine: a throwaway ``neo4j:5.26-community`` container through testcontainers;
3. neither: the Neo4j tests skip with the reason.

With ``CARTOGRAPH_TEST_NEO4J_REQUIRED=1`` (``.ci/run`` sets it where Java is installed) a Neo4j test that
skips, for any reason, fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kg.config import PROJECT_ROOT, Settings
from kg.queries import QueryLibrary
from kg.store import GraphStore
from kg.store.embedded import EmbeddedStore

CYPHER_DIR = PROJECT_ROOT / "cypher"
#: MiniLM's cache of the sample's text encodings, shared by the tests that train on the sample (encoded once).
TEXT_CACHE = PROJECT_ROOT / "var" / "test-cache"


def home_with_text_cache(parent: Path) -> Path:
    """A new, empty Cartograph home ``parent/home`` whose text cache is the shared :data:`TEXT_CACHE`."""
    home = parent / "home"
    home.mkdir()
    TEXT_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    return home
# The suite must not depend on which FreeDict packages the machine has (tests/test_translate.py writes its own
# dictd files); nor convert 380k German headwords for every test home.
os.environ.setdefault("CARTOGRAPH_SEARCH_DICTD_DIR", str(PROJECT_ROOT / "tests" / "no-dictd"))
NEO4J_IMAGE = "neo4j:5.26-community"


def docker_unavailable_reason() -> str | None:
    """Why Docker-backed tests cannot run here, or None when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no Docker engine on this machine (docker client not installed)"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"no Docker engine on this machine (docker info: {e})"
    if done.returncode != 0:
        return "no Docker engine on this machine (docker info failed: the daemon is not running)"
    return None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated in a temp dir, embedded backend, whatever the environment says."""
    return Settings(store_backend="embedded", home=tmp_path / "home", neo4j_uri=None, batch_size=1000)


def neo4j_required() -> bool:
    return os.environ.get("CARTOGRAPH_TEST_NEO4J_REQUIRED", "") not in ("", "0", "false", "no")


def local_neo4j() -> tuple[str, str, str, str | None] | None:
    """(uri, user, password, http url) of the server named by CARTOGRAPH_TEST_NEO4J_URI, or None."""
    uri = os.environ.get("CARTOGRAPH_TEST_NEO4J_URI")
    if not uri:
        return None
    user = os.environ.get("CARTOGRAPH_TEST_NEO4J_USER", "neo4j")
    return (uri, user, os.environ.get("CARTOGRAPH_TEST_NEO4J_PASSWORD", ""),
            os.environ.get("CARTOGRAPH_TEST_NEO4J_HTTP_URL"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Where Neo4j is required, a skipped Neo4j test is a failure (CI must not pass with the half unrun)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and neo4j_required() and item.get_closest_marker("neo4j") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"Neo4j test skipped while CARTOGRAPH_TEST_NEO4J_REQUIRED is set: {reason}"


def wipe_neo4j(driver: object) -> None:
    """An empty database: every node and relationship deleted (the schema stays; init_schema is idempotent)."""
    with driver.session() as session:  # type: ignore[attr-defined]
        # CALL { } IN TRANSACTIONS runs only in an auto-commit transaction (session.run), not execute_query.
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


@dataclass(frozen=True)
class Neo4jServer:
    uri: str
    user: str
    password: str
    http_url: str | None = None  # where Neo4j Browser is served (/browser/), when known

    def env(self) -> dict[str, str]:
        """The cartograph command's settings for this server."""
        return {"CARTOGRAPH_STORE_BACKEND": "neo4j", "CARTOGRAPH_NEO4J_URI": self.uri,
                "CARTOGRAPH_NEO4J_USER": self.user, "CARTOGRAPH_NEO4J_PASSWORD": self.password}


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jServer]:
    """A Neo4j server for the session: CARTOGRAPH_TEST_NEO4J_URI's, else a testcontainers one, else skip."""
    local = local_neo4j()
    if local is not None:
        yield Neo4jServer(*local)
        return
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"{reason}; or start a local Neo4j (scripts/neo4j-local start) and set CARTOGRAPH_TEST_NEO4J_URI")
    from testcontainers.community.neo4j import Neo4jContainer  # type: ignore[import-not-found]

    with Neo4jContainer(NEO4J_IMAGE).with_exposed_ports(7474) as container:
        http_url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(7474)}"
        yield Neo4jServer(container.get_connection_url(), container.username, container.password, http_url)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[object]:
    import neo4j

    driver = neo4j.GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password),
                                        notifications_min_severity="OFF")
    try:
        driver.verify_connectivity()
    except Exception as e:
        driver.close()
        pytest.fail(f"Neo4j at {neo4j_server.uri} does not answer: {e}")
    try:
        yield driver
    finally:
        driver.close()


def _embedded_store(tmp_path: Path, batch_size: int) -> GraphStore:
    return EmbeddedStore(tmp_path / "graph.lbug", QueryLibrary(CYPHER_DIR), batch_size=batch_size)


def _neo4j_store(request: pytest.FixtureRequest, batch_size: int) -> GraphStore:
    from kg.store.neo4j import Neo4jStore

    driver = request.getfixturevalue("neo4j_driver")
    store = Neo4jStore(driver, QueryLibrary(CYPHER_DIR), batch_size=batch_size)  # type: ignore[arg-type]
    wipe_neo4j(driver)
    return store


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("neo4j", id="neo4j", marks=[pytest.mark.neo4j]),
    ]
)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A function ``(batch_size) -> GraphStore`` giving an empty, schema-initialised store of each backend."""
    opened: list[GraphStore] = []

    def make(batch_size: int = 1000) -> GraphStore:
        if request.param == "embedded":
            store = _embedded_store(tmp_path / f"db{len(opened)}", batch_size)
        else:
            store = _neo4j_store(request, batch_size)
        store.init_schema()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory) -> GraphStore:  # type: ignore[no-untyped-def]
    return store_factory()  # type: ignore[no-any-return]
