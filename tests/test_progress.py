"""Progress with an ETA: periodic lines off a terminal, nothing when quiet, the CLI's --quiet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cartograph.cli import app
from kg import progress
from kg.progress import Step, is_quiet, set_quiet, step, track


@pytest.fixture(autouse=True)
def _not_quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CARTOGRAPH_QUIET", raising=False)
    set_quiet(False)
    yield
    set_quiet(False)  # the flag is process-wide: leave it as other tests expect


def test_a_long_step_off_a_terminal_prints_lines_with_an_eta(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    with step("encoding 3 texts", 4) as s:
        s.advance(1)
        s.advance(1)
    err = capsys.readouterr().err
    assert "encoding 3 texts: 25% (1/4)" in err and "encoding 3 texts: 50% (2/4)" in err
    assert "left" in err and "elapsed" in err


def test_a_short_step_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(track(range(3), "quick", 3)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_quiet_silences_everything(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    monkeypatch.setenv("CARTOGRAPH_QUIET", "1")
    assert is_quiet()
    with step("x", 2) as s:
        s.advance()
    assert capsys.readouterr().err == ""


def test_the_eta_line() -> None:
    s = Step("training gnn", 10, count=False)
    s.started -= 30
    s.done = 3
    assert s.line().startswith("training gnn: 30%, 30s elapsed, about 1m10s left")


def test_cli_quiet_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["--quiet", "models", "list"])
    assert result.exit_code == 0, result.output
    assert is_quiet()


def test_a_step_whose_bound_moves_reports_against_the_new_total() -> None:
    """Training's bar: the epoch cap at first, then the epoch early stopping ends it by (gnn.fitting)."""
    s = Step("training", 300, enabled=False)
    s.advance(5)
    assert "(5/300)" in s.line()
    s.set_total(15)
    assert "33% (5/15)" in s.line()
