"""The command line on the embedded default, run in-process with isolated settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartograph.cli import app

runner = CliRunner()


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARTOGRAPH_NEO4J_URI", raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_init_creates_the_embedded_database_idempotently(home: Path) -> None:
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert (home / "graph.lbug").exists()
    assert runner.invoke(app, ["init"]).exit_code == 0
    info = runner.invoke(app, ["info", "--json"])
    assert info.exit_code == 0, info.output
    counts = json.loads(info.stdout)
    assert counts["backend"] == "embedded"
    assert counts["nodes"]["Product"] == 0 and "SIMILAR_TO" in counts["relationships"]


def test_init_adds_the_extraction_properties_to_a_graph_that_predates_them(home: Path) -> None:
    import ladybug

    home.mkdir()
    db = ladybug.Database(str(home / "graph.lbug"))  # an old graph: Product and MENTIONS without those columns
    conn = ladybug.Connection(db)
    conn.execute("CREATE NODE TABLE Product(id STRING, title STRING, PRIMARY KEY(id))")
    conn.execute("CREATE NODE TABLE Entity(id STRING, name STRING, type STRING, PRIMARY KEY(id))")
    conn.execute("CREATE REL TABLE MENTIONS(FROM Product TO Entity, source STRING)")
    conn.close()
    db.close()
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["query", "MATCH (p:Product) RETURN p.extracted_hash AS h, p.extracted_by AS b"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["query", "MATCH ()-[m:MENTIONS]->() RETURN m.surface AS s"])
    assert result.exit_code == 0, result.output


def test_info_before_init_says_what_to_do(home: Path) -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 1
    assert "cartograph init" in result.output


def test_bad_settings_exit_1_with_the_reason(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTOGRAPH_BATCH_SIZE", "-5")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "batch_size" in result.output


def test_a_second_process_gets_a_clear_error_while_the_database_is_open(home: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    from kg.config import load_settings
    from kg.store import open_store

    with open_store(load_settings()) as store:
        store.ping()  # holds the embedded database's write lock
        done = subprocess.run(
            [sys.executable, "-m", "cartograph", "init"], capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 1
    assert "another process" in done.stderr
