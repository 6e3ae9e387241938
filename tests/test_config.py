"""Settings: environment, TOML file, precedence, derived paths and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import load_settings
from kg.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CARTOGRAPH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_use_the_embedded_store_under_home() -> None:
    settings = load_settings()
    assert settings.resolved_backend == "embedded"
    assert settings.embedded_path == Path("var/graph.lbug")
    assert settings.artifacts_dir == Path("var/artifacts")


def test_neo4j_uri_selects_neo4j_in_auto_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTOGRAPH_NEO4J_URI", "bolt://db:7687")
    monkeypatch.setenv("CARTOGRAPH_NEO4J_PASSWORD", "s3cret-pass")
    settings = load_settings()
    assert settings.resolved_backend == "neo4j"
    assert "s3cret-pass" not in repr(settings)  # secrets are not printed
    assert load_settings(store_backend="embedded").resolved_backend == "embedded"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "cartograph.toml"
    config.write_text('batch_size = 250\nhome = "/srv/carto"\n')
    settings = load_settings(config)
    assert (settings.batch_size, settings.embedded_path) == (250, Path("/srv/carto/graph.lbug"))
    monkeypatch.setenv("CARTOGRAPH_BATCH_SIZE", "99")
    assert load_settings(config).batch_size == 99
    monkeypatch.setenv("CARTOGRAPH_CONFIG", str(config))
    assert load_settings().embedded_path == Path("/srv/carto/graph.lbug")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARTOGRAPH_BATCH_SIZE": "0"}, "batch_size"),
        ({"CARTOGRAPH_BATCH_SIZE": "many"}, "batch_size"),
        ({"CARTOGRAPH_STORE_BACKEND": "postgres"}, "store_backend"),
        ({"CARTOGRAPH_STORE_BACKEND": "neo4j"}, "NEO4J_URI is not set"),
    ],
)
def test_bad_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_missing_or_malformed_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("batch_size = = 3")
    with pytest.raises(ConfigError):
        load_settings(bad)
