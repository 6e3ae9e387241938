"""Erasing a user: the registry, the file purges, ``forget_user`` on both stores, ``cartograph forget-user``,
and what the served index does with a forgotten user. The API end to end is in test_api.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from typer.testing import CliRunner

from api.privacy import forget_user, hide_forgotten
from cartograph.cli import app
from kg.config import Settings
from kg.privacy import purge_jsonl, read_forgotten, record_forgotten, registry_path, user_digest
from kg.store import GraphStore, open_store
from tests.explore_graph import build_small_graph


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_purge_jsonl_drops_only_the_users_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    rows = [{"user_id": "u1", "product_id": "p1"}, {"user_id": "u2", "product_id": "p1"},
            {"user_id": "u10", "product_id": "u1"}, {"user_id": "u1", "product_id": "p2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert purge_jsonl(path, "u1") == 2
    assert _lines(path) == rows[1:3]  # a product named "u1" or a user "u10" is not the user
    assert purge_jsonl(path, "u1") == 0 and purge_jsonl(tmp_path / "missing.jsonl", "u1") == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_purge_jsonl_without_a_key_drops_raw_lines_naming_the_user(tmp_path: Path) -> None:
    path = tmp_path / "quarantine.jsonl"
    path.write_text('{"reason": "bad ts", "record": {"reviewerID": "u1", "asin": "p1"}}\n'
                    '{"reason": "bad ts", "record": {"reviewerID": "u12"}}\nnot json but "u1" inside\n',
                    encoding="utf-8")
    assert purge_jsonl(path, "u1", key=None) == 2
    assert path.read_text(encoding="utf-8") == '{"reason": "bad ts", "record": {"reviewerID": "u12"}}\n'


def test_the_registry_keeps_digests_never_ids(tmp_path: Path) -> None:
    path = tmp_path / "privacy" / "forgotten.txt"
    assert record_forgotten(path, "Admin") and not record_forgotten(path, "Admin")
    assert read_forgotten(path) == {user_digest("Admin")}
    assert "Admin" not in path.read_text()


def test_hide_forgotten_makes_the_user_unknown_to_the_index() -> None:
    index: Any = SimpleNamespace(user_index={"u1": 0, "u2": 1}, catalog=SimpleNamespace(user_index={"u1": 0, "u3": 1}))
    assert hide_forgotten(index, frozenset({user_digest("u1")})) == ["u1"]
    assert index.user_index == {"u2": 1} and index.catalog.user_index == {"u3": 1}
    assert hide_forgotten(index, frozenset()) == []


def _user_state(store: GraphStore, user: str) -> tuple[int, int]:
    nodes = store.query("MATCH (u:User {id: $u}) RETURN count(u) AS n", {"u": user})[0]["n"]
    edges = store.query("MATCH (u:User {id: $u})-[r]-() RETURN count(r) AS n", {"u": user})[0]["n"]
    return int(nodes), int(edges)


def _seed_files(home: Path) -> tuple[Path, Path]:
    spool = home / "events" / "pending.jsonl"
    spool.parent.mkdir(parents=True)
    spool.write_text('{"user_id": "u1", "product_id": "p1", "type": "view", "ts": 1}\n'
                     '{"user_id": "u2", "product_id": "p1", "type": "view", "ts": 2}\n', encoding="utf-8")
    quarantine = home / "runs" / "r1" / "quarantine.jsonl"
    quarantine.parent.mkdir(parents=True)
    quarantine.write_text('{"reason": "unknown product", "record": {"user_id": "u1", "product_id": "zz"}}\n',
                          encoding="utf-8")
    return spool, quarantine


def test_forget_user_erases_the_user_everywhere_and_is_idempotent(store: GraphStore, settings: Settings) -> None:
    """On both stores (the neo4j half runs where a Neo4j server is configured)."""
    build_small_graph(store)
    spool, quarantine = _seed_files(settings.home)
    before_u1, before_u2 = _user_state(store, "u1"), _user_state(store, "u2")
    assert before_u1[0] == 1 and before_u1[1] > 0
    report = forget_user(settings, store, "u1")
    assert (report.newly_forgotten, report.graph_users, report.graph_edges) == (True, 1, before_u1[1])
    assert (report.event_lines, report.quarantine_lines) == (1, 1)
    assert _user_state(store, "u1") == (0, 0) and _user_state(store, "u2") == before_u2
    assert [e["user_id"] for e in _lines(spool)] == ["u2"] and quarantine.read_text() == ""
    assert read_forgotten(registry_path(settings)) == {user_digest("u1")}
    again = forget_user(settings, store, "u1")
    assert (again.newly_forgotten, again.graph_users, again.graph_edges, again.event_lines) == (False, 0, 0, 0)


def test_cartograph_forget_user_on_the_embedded_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None)
    with open_store(settings) as store:
        store.init_schema()
        build_small_graph(store)
    _seed_files(home)
    env = {"CARTOGRAPH_HOME": str(home), "CARTOGRAPH_STORE_BACKEND": "embedded", "CARTOGRAPH_NEO4J_URI": ""}
    result = CliRunner().invoke(app, ["forget-user", "u1", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["graph_users"] == 1 and report["event_lines"] == 1 and report["quarantine_lines"] == 1
    with open_store(settings, read_only=True) as store:
        assert _user_state(store, "u1") == (0, 0)
    refused = CliRunner().invoke(app, ["forget-user", "\u0410dmin"], env=env)  # a Cyrillic A: not an id
    assert refused.exit_code != 0 and "not a user id" in refused.output
