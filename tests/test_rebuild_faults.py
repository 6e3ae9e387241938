"""Crash tests: a rebuild killed with SIGKILL inside a step leaves a usable state, and re-running the same
command completes it with the graph a clean run produces (fault points: kg.rebuild.job.fault_point)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_rebuild import V1, V2, main_job_home, run_job, sample_export, write_catalog

from gnn.bundle import current_bundle_path
from kg.config import PROJECT_ROOT, Settings
from kg.ingest.pipeline import dump_graph
from kg.rebuild.job import FAULT_ENV
from kg.store import open_store

GRAPH_POINTS = ["plan:start", "graph:start", "graph:after-ingest", "extract:start"]


def cartograph(home: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process (a SIGKILL must not take the test runner with it)."""
    env = {**os.environ, "CARTOGRAPH_HOME": str(home), "CARTOGRAPH_STORE_BACKEND": "embedded"}
    env.pop("CARTOGRAPH_NEO4J_URI", None)
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run([sys.executable, "-m", "cartograph", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=PROJECT_ROOT, check=False)


def graph_of(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with open_store(settings, read_only=True) as store:
        return dump_graph(store)


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("catalogs")
    return write_catalog(folder / "v1", V1), write_catalog(folder / "v2", V2)


@pytest.fixture(scope="module")
def clean_graph(tmp_path_factory: pytest.TempPathFactory, catalogs: tuple[Path, Path]) -> Any:
    """The graph after v1 then v2, with no crash (in-process: the reference)."""
    settings = Settings(store_backend="embedded", home=tmp_path_factory.mktemp("clean") / "home", neo4j_uri=None)
    run_job(settings, catalogs[0])
    run_job(settings, catalogs[1])
    return graph_of(settings)


@pytest.mark.parametrize("point", GRAPH_POINTS)
def test_killed_graph_steps_resume_to_the_clean_graph(point: str, tmp_path: Path, catalogs: tuple[Path, Path],
                                                      clean_graph: Any) -> None:
    settings = Settings(store_backend="embedded", home=tmp_path / "home", neo4j_uri=None)
    run_job(settings, catalogs[0])
    args = ("rebuild", "--catalog", str(catalogs[1]), "--no-model", "--no-progress")
    killed = cartograph(settings.home, *args, fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    graph_of(settings)  # the graph opens after the crash (usable)
    resumed = cartograph(settings.home, *args)  # the lock died with the killed process
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming job" in " ".join(resumed.stderr.split())
    assert graph_of(settings) == clean_graph


@pytest.mark.slow
@pytest.mark.parametrize("point", ["model:after-train", "gate:start", "publish:before-swap"])
def test_killed_model_steps_keep_the_current_bundle_and_resume(point: str, tmp_path: Path) -> None:
    settings = main_job_home(tmp_path / "home")
    home = settings.home
    serving = current_bundle_path(settings.artifacts_dir)
    export, _ = sample_export(tmp_path / "export")
    args = ("rebuild", "--catalog", str(export), "--finetune-epochs", "1", "--tolerance", "0.99", "--no-progress")
    killed = cartograph(home, *args, fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert current_bundle_path(settings.artifacts_dir) == serving  # what the API serves has not moved
    resumed = cartograph(home, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert "outcome: published" in " ".join(resumed.stderr.split())
    assert current_bundle_path(settings.artifacts_dir) != serving
