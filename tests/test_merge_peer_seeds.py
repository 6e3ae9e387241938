"""bench/merge_peer_seeds.py: a peer row's seeds from several reports, weighted by their counts, by hand."""

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

import merge_peer_seeds  # noqa: E402


def _report(results: Path, stem: str, seeds: list[int], per_user: list[float]) -> None:
    rows = {"SASRec": {"seeds": [{"seed": s, "metrics": {"ndcg@10": 0.1}, "converged": True} for s in seeds]}}
    (results / f"{stem}.json").write_text(json.dumps({"datasets": {"d": {"rows": rows}}}))
    (results / f"{stem}_per_user").mkdir()
    np.savez_compressed(results / f"{stem}_per_user" / "d.npz", SASRec=np.array(per_user), Other=np.zeros(2))


def test_the_reports_are_weighted_by_their_seed_counts(tmp_path: Path) -> None:
    _report(tmp_path, "three", [1, 2, 3], [0.3, 0.0])
    _report(tmp_path, "two", [4, 5], [0.8, 0.5])
    assert merge_peer_seeds.main(["three", "two", "--dataset", "d", "--row", "SASRec", "--stem", "five",
                                  "--results", str(tmp_path)]) == 0
    with np.load(tmp_path / "five_per_user" / "d.npz") as npz:
        assert npz.files == ["SASRec"]  # only the merged row: seed_mean takes the first archive's rows
        # (3 x 0.3 + 2 x 0.8) / 5 = 0.5 and (3 x 0 + 2 x 0.5) / 5 = 0.2, not the unweighted 0.55 and 0.25
        assert npz["SASRec"] == pytest.approx([0.5, 0.2])
    doc = json.loads((tmp_path / "five.json").read_text())
    assert [s["seed"] for s in doc["seeds"]] == [1, 2, 3, 4, 5] and doc["mean_ndcg@10"] == pytest.approx(0.35)


def test_a_seed_in_two_reports_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _report(tmp_path, "a", [1, 2], [0.3, 0.0])
    _report(tmp_path, "b", [2], [0.8, 0.5])
    assert merge_peer_seeds.main(["a", "b", "--dataset", "d", "--row", "SASRec", "--stem", "m",
                                  "--results", str(tmp_path)]) == 2
    assert "more than one report" in capsys.readouterr().err and not (tmp_path / "m.json").exists()


def test_a_missing_row_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _report(tmp_path, "a", [1], [0.3, 0.0])
    assert merge_peer_seeds.main(["a", "--dataset", "d", "--row", "GRU4Rec", "--stem", "m",
                                  "--results", str(tmp_path)]) == 2
    assert "no 'GRU4Rec' row" in capsys.readouterr().err
