"""Model versions: list, show, use, rollback (``gnn.versions`` and ``cartograph models``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cartograph.cli import app
from gnn.bundle import SWITCHES, current_bundle_path, set_current_bundle, write_bundle
from gnn.config import TrainConfig
from gnn.versions import VersionError, find_bundle, list_bundles, rollback, rollback_target, use_bundle


def _bundle(artifacts: Path, ndcg: float, *, set_current: bool = True) -> str:
    path = write_bundle(artifacts, config=TrainConfig(model="bpr_mf", epochs=0), snapshot_id=f"snap{ndcg}",
                        id_maps={"user": ["u"], "product": ["p", "q"]}, user_embeddings=np.zeros((1, 2)),
                        product_embeddings=np.zeros((2, 2)),
                        metrics={"model": "bpr_mf", "metrics": {"test": {"ndcg@10": ndcg, "recall@10": 2 * ndcg}},
                                 "baselines": {"popularity": {"metrics": {"test": {"ndcg@10": 0.01}}}}},
                        set_current=set_current)
    return path.name


@pytest.fixture
def three(tmp_path: Path) -> tuple[Path, list[str]]:
    artifacts = tmp_path / "artifacts"
    return artifacts, [_bundle(artifacts, x) for x in (0.1, 0.2, 0.3)]


def test_list_marks_the_served_bundle_with_its_metrics(three: tuple[Path, list[str]]) -> None:
    artifacts, names = three
    (artifacts / "extract").mkdir()  # other folders under artifacts are not bundles
    bundles = list_bundles(artifacts)
    assert [b.path.name for b in bundles] == names
    assert [b.current for b in bundles] == [False, False, True]
    assert bundles[0].summary()["test ndcg@10"] == 0.1 and bundles[0].summary()["test recall@10"] == 0.2


def test_use_and_rollbacks_walk_back_the_served_versions(three: tuple[Path, list[str]]) -> None:
    artifacts, (a, b, c) = three
    assert rollback(artifacts).path.name == b
    assert rollback(artifacts).path.name == a  # rollback of a rollback goes further back
    with pytest.raises(VersionError, match="nothing to roll back to"):
        rollback(artifacts)
    assert use_bundle(artifacts, c[:-3]).path.name == c  # a unique prefix is enough
    assert rollback(artifacts).path.name == a  # what was served before the `use`
    assert current_bundle_path(artifacts).name == a
    actions = [json.loads(line)["action"] for line in (artifacts / SWITCHES).read_text().splitlines()]
    assert actions == ["train", "train", "train", "rollback", "rollback", "use", "rollback"]


def test_rollback_without_a_log_uses_creation_times(three: tuple[Path, list[str]]) -> None:
    artifacts, (_, b, _) = three
    (artifacts / SWITCHES).unlink()
    assert rollback_target(artifacts) == b


def test_unknown_and_ambiguous_versions(three: tuple[Path, list[str]]) -> None:
    artifacts, _ = three
    with pytest.raises(VersionError, match="no bundle 'nope'"):
        find_bundle(artifacts, "nope")
    with pytest.raises(VersionError, match="names 3 bundles"):
        find_bundle(artifacts, "2")


def test_a_candidate_publish_is_recorded(tmp_path: Path) -> None:
    artifacts = tmp_path / "a"
    first = _bundle(artifacts, 0.1)
    candidate = _bundle(artifacts, 0.2, set_current=False)
    set_current_bundle(artifacts, candidate)
    assert rollback_target(artifacts) == first


def test_models_cli(three: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts, (a, b, c) = three
    monkeypatch.setenv("CARTOGRAPH_ARTIFACTS_DIR", str(artifacts))
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(x["version"], x["current"]) for x in json.loads(listed.stdout)] == [(a, False), (b, False), (c, True)]
    table = runner.invoke(app, ["models", "list"])
    assert table.exit_code == 0 and "0.3000" in table.stdout
    shown = runner.invoke(app, ["models", "show"])
    assert shown.exit_code == 0 and c in shown.stdout and "popularity" in shown.stdout
    used = runner.invoke(app, ["models", "use", a])
    assert used.exit_code == 0 and f"now serving {a}" in " ".join(used.output.split())
    rolled = runner.invoke(app, ["models", "rollback"])
    assert rolled.exit_code == 0 and c in " ".join(rolled.output.split())
    bad = runner.invoke(app, ["models", "use", "nope"])
    assert bad.exit_code == 1 and "no bundle 'nope'" in bad.output
