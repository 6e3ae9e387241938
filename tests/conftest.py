"""Shared fixtures. The ``store`` fixture is parametrised over every backend (see test_store.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.config import PROJECT_ROOT, Settings
from kg.queries import QueryLibrary
from kg.store import GraphStore
from kg.store.embedded import EmbeddedStore

CYPHER_DIR = PROJECT_ROOT / "cypher"
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


@pytest.fixture(scope="session")
def neo4j_driver() -> Iterator[object]:
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.community.neo4j import Neo4jContainer  # type: ignore[import-not-found]

    with Neo4jContainer(NEO4J_IMAGE) as container:
        driver = container.get_driver()
        try:
            yield driver
        finally:
            driver.close()


def _embedded_store(tmp_path: Path, batch_size: int) -> GraphStore:
    return EmbeddedStore(tmp_path / "graph.kuzu", QueryLibrary(CYPHER_DIR), batch_size=batch_size)


def _neo4j_store(request: pytest.FixtureRequest, batch_size: int) -> GraphStore:
    from kg.store.neo4j import Neo4jStore

    driver = request.getfixturevalue("neo4j_driver")
    store = Neo4jStore(driver, QueryLibrary(CYPHER_DIR), batch_size=batch_size)  # type: ignore[arg-type]
    store.query("MATCH (n) DETACH DELETE n")
    return store


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("neo4j", id="neo4j", marks=[pytest.mark.docker, pytest.mark.neo4j]),
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
