"""bench/seed_mean.py: the served model's per-user mean over seeds against archived peer rows, checked by hand."""

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

import seed_mean  # noqa: E402


def _run(path: Path, ours: list[float]) -> Path:
    np.savez_compressed(path, **{"test/kg_sasrec": np.array(ours)})
    return path


def _peers(path: Path, **rows: list[float]) -> Path:
    np.savez_compressed(path, **{name.replace("_", " "): np.array(v) for name, v in rows.items()})
    return path


def test_seeds_are_averaged_per_user_and_compared_with_every_peer_row(tmp_path: Path) -> None:
    a = _run(tmp_path / "s0.per_user.npz", [1.0, 0.0, 0.5, 0.5])  # mean 0.5
    b = _run(tmp_path / "s1.per_user.npz", [0.0, 1.0, 0.5, 0.5])  # mean 0.5; per user (0.5, 0.5, 0.5, 0.5)
    first = _peers(tmp_path / "p1.npz", SASRec=[0.25, 0.25, 0.25, 0.25], Cartograph=[1.0, 1.0, 1.0, 1.0])
    second = _peers(tmp_path / "p2.npz", SASRec=[0.0, 0.0, 0.0, 0.0], Popularity=[0.5, 0.5, 0.0, 0.0])
    assert seed_mean.main([str(a), str(b), "--peers", str(first), str(second), "--stem", "m",
                           "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["per_run"] == [pytest.approx(0.5), pytest.approx(0.5)] and doc["mean"] == pytest.approx(0.5)
    assert set(doc["ratios"]) == {"SASRec", "Popularity"}  # an older Cartograph row is not a peer
    sasrec, popularity = doc["ratios"]["SASRec"], doc["ratios"]["Popularity"]
    # The first archive's SASRec wins; every user scores 0.5 against 0.25: 2x in every resample.
    assert sasrec["theirs"] == pytest.approx(0.25) and sasrec["ratio"] == pytest.approx(2.0)
    assert sasrec["ci95_low"] == pytest.approx(2.0) and sasrec["ci95_high"] == pytest.approx(2.0)
    assert not sasrec["sanity"] and popularity["sanity"] and popularity["ratio"] == pytest.approx(2.0)
    assert "| SASRec | 0.2500 | 2.00x | 2.00 - 2.00 |" in (tmp_path / "m.md").read_text()


def test_a_peers_archive_row_can_stand_for_the_served_model(tmp_path: Path) -> None:
    ours = _peers(tmp_path / "old.npz", Cartograph=[0.5, 0.5, 0.5, 0.5], SASRec=[0.9, 0.9, 0.9, 0.9])
    new = _peers(tmp_path / "new.npz", LightGCN=[0.25, 0.25, 0.25, 0.25])
    assert seed_mean.main([str(ours), "--row", "Cartograph", "--peers", str(new), "--stem", "r",
                           "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["mean"] == pytest.approx(0.5) and set(doc["ratios"]) == {"LightGCN"}
    assert doc["ratios"]["LightGCN"]["ratio"] == pytest.approx(2.0)


def test_mismatched_users_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "s0.per_user.npz", [1.0, 0.0])
    peers = _peers(tmp_path / "p.npz", SASRec=[0.5, 0.5, 0.5])
    assert seed_mean.main([str(a), "--peers", str(peers), "--stem", "m", "--out", str(tmp_path)]) == 2
    assert "SASRec has 3 users, the runs 2" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    assert seed_mean.main([str(a), "--peers", str(tmp_path / "gone.npz"), "--stem", "m", "--out", str(tmp_path)]) == 2
    assert "gone.npz: no such file" in capsys.readouterr().err


def test_the_seed_and_user_interval_carries_the_spread_between_seeds(tmp_path: Path) -> None:
    # Two seeds that differ only by seed (0.6 and 0.4 for every user) against a peer at 0.5: over users alone the
    # ratio is exactly 1; with the seeds resampled too, a draw holds both seeds (1.0, half the draws), seed 0
    # twice (1.2) or seed 1 twice (0.8), a quarter each.
    a = _run(tmp_path / "s0.per_user.npz", [0.6, 0.6, 0.6])
    b = _run(tmp_path / "s1.per_user.npz", [0.4, 0.4, 0.4])
    peers = _peers(tmp_path / "p.npz", SASRec=[0.5, 0.5, 0.5])
    assert seed_mean.main([str(a), str(b), "--peers", str(peers), "--stem", "m", "--out", str(tmp_path)]) == 0
    sasrec = json.loads((tmp_path / "m.json").read_text())["ratios"]["SASRec"]
    assert sasrec["ci95_low"] == pytest.approx(1.0) and sasrec["ci95_high"] == pytest.approx(1.0)
    assert sasrec["seeds_ci95_low"] == pytest.approx(0.8) and sasrec["seeds_ci95_high"] == pytest.approx(1.2)
    assert sasrec["seeds_p_at_least_target"] == pytest.approx(0.25, abs=0.04)
    assert "| 1.00 - 1.00 | 0.000 | 0.80 - 1.20 |" in (tmp_path / "m.md").read_text()


def test_one_run_has_no_seed_interval(tmp_path: Path) -> None:
    a = _run(tmp_path / "s0.per_user.npz", [0.6, 0.4])
    peers = _peers(tmp_path / "p.npz", SASRec=[0.5, 0.5])
    assert seed_mean.main([str(a), "--peers", str(peers), "--stem", "m", "--out", str(tmp_path)]) == 0
    assert "seeds_ci95_low" not in json.loads((tmp_path / "m.json").read_text())["ratios"]["SASRec"]
    assert "| - | - |" in (tmp_path / "m.md").read_text()
