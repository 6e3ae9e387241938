"""Crash tests for `cartograph ingest` (issue 16): killed with SIGKILL part-way through the load or just
before the publish, the graph readers see is the old one, whole; the rerun converges to the graph of a clean
run, and a killed first load reruns on the bulk path (fault points: kg.faults.fault_point)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from test_rebuild import EVENTS, V1, V2, write_catalog
from test_rebuild_faults import cartograph, graph_of

from kg.config import Settings
from kg.ingest.run import run_ingest
from kg.ingest.staging import staging_path


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("catalogs")
    return write_catalog(folder / "v1", V1, EVENTS[:1]), write_catalog(folder / "v2", V2, EVENTS)


def settings_at(home: Path) -> Settings:
    return Settings(store_backend="embedded", home=home, neo4j_uri=None)


def clean_graph(home: Path, *catalogs: Path) -> Any:
    settings = settings_at(home)
    for catalog in catalogs:
        run_ingest(settings, catalog, progress=False)
    return graph_of(settings)


def ingest_cli(home: Path, catalog: Path, report: Path, fault: str | None = None) -> Any:
    return cartograph(home, "ingest", str(catalog), "--report", str(report), "--no-progress", fault=fault)


def test_a_killed_first_ingest_leaves_the_empty_graph_and_reruns_in_bulk(tmp_path: Path,
                                                                        catalogs: tuple[Path, Path]) -> None:
    settings = settings_at(tmp_path / "home")
    assert cartograph(settings.home, "init").returncode == 0
    empty = graph_of(settings)
    killed = ingest_cli(settings.home, catalogs[0], tmp_path / "killed.json", fault="ingest:mid-load")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert staging_path(settings.embedded_path).exists()  # the half-loaded copy, never published
    assert graph_of(settings) == empty  # readers see the graph as it was, not part of the load
    rerun = ingest_cli(settings.home, catalogs[0], tmp_path / "rerun.json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads((tmp_path / "rerun.json").read_text())["load_method"] == "copy"  # bulk, as a clean run
    assert not staging_path(settings.embedded_path).exists()
    assert graph_of(settings) == clean_graph(tmp_path / "clean", catalogs[0])


@pytest.mark.parametrize("point", ["ingest:mid-load", "ingest:before-publish"])
def test_a_killed_ingest_keeps_the_old_graph_readable_and_the_rerun_converges(
        point: str, tmp_path: Path, catalogs: tuple[Path, Path]) -> None:
    settings = settings_at(tmp_path / "home")
    assert ingest_cli(settings.home, catalogs[0], tmp_path / "v1.json").returncode == 0
    old = graph_of(settings)
    killed = ingest_cli(settings.home, catalogs[1], tmp_path / "killed.json", fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert graph_of(settings) == old
    rerun = ingest_cli(settings.home, catalogs[1], tmp_path / "rerun.json")
    assert rerun.returncode == 0, rerun.stderr
    assert graph_of(settings) == clean_graph(tmp_path / "clean", *catalogs)
    assert graph_of(settings) != old
