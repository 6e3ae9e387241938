"""bench/pool_slices.py: several runs' per-user figures pooled into one ratio, checked by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from kg.config import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import pool_slices  # noqa: E402


def _run(path: Path, ours: list[float], theirs: list[float]) -> Path:
    np.savez_compressed(path, **{"cold/kg_sasrec": np.array(ours), "cold/text_only": np.array(theirs)})
    return path


def test_two_slices_pool_their_users_and_keep_each_slice_ratio(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.per_user.npz", [1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0])  # 0.5 vs 0.25: 2x
    b = _run(tmp_path / "b.per_user.npz", [0.0, 0.0], [1.0, 0.0])  # 0 vs 0.5: 0x
    assert pool_slices.main([str(a), str(b), "--stem", "pooled", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "pooled.json").read_text())
    row = doc["ratios"]["cold: kg_sasrec / text_only"]
    # Pooled: 2 hits of 6 units against 2 of 6: 1.0, whatever each slice says.
    assert row["ours"] == pytest.approx(2 / 6) and row["theirs"] == pytest.approx(2 / 6)
    assert row["ratio"] == pytest.approx(1.0) and row["units"] == 6 and row["metric"] == "cold recall@20"
    assert row["runs"] == [pytest.approx(2.0), pytest.approx(0.0)]
    assert row["ci95_low"] <= 1.0
    assert doc["runs"] == ["a", "b"] and "| cold: kg_sasrec / text_only |" in (tmp_path / "pooled.md").read_text()


def test_runs_holding_different_arrays_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a.per_user.npz", [1.0], [1.0])
    np.savez_compressed(tmp_path / "b.per_user.npz", **{"cold/kg_sasrec": np.array([1.0])})
    assert pool_slices.main([str(a), str(tmp_path / "b.per_user.npz"), "--stem", "x", "--out", str(tmp_path)]) == 2
    assert "the same per-user arrays" in capsys.readouterr().err
    assert pool_slices.main([str(tmp_path / "missing.npz"), "--stem", "x", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "x.json").exists()
