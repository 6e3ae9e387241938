"""`cartograph query`: the write-clause tokenizer, typed parameters, read-only execution and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from explore_graph import build_small_graph
from typer.testing import CliRunner

from cartograph.cli import app
from kg.config import Settings, load_settings
from kg.errors import QueryError, WriteRefusedError
from kg.explore.params import check_against, parse_param, parse_params
from kg.explore.readonly import check_read_only, run_read_only, write_clauses
from kg.store import GraphStore, open_store

# -- the tokenizer ----------------------------------------------------------------------------------------------

REFUSED = [
    "MATCH (n) DETACH DELETE n",
    "CREATE (:Brand {id: 'x'})",
    "match (p:Product) set p.title = 'x'",
    "MATCH (p:Product) REMOVE p.title",
    "MERGE (b:Brand {id: $id})",
    "DROP TABLE Product",
    "COPY Product FROM 'products.csv'",
    "LOAD FROM 'x.csv' RETURN *",
    "LOAD CSV FROM 'file:///x.csv' AS row RETURN row",
    "MATCH (n) RETURN n; MATCH (m) DELETE m",
    "MATCH (n) CALL { WITH n DELETE n } RETURN 1",
    "CALL apoc.create.node(['X'], {}) YIELD node RETURN node",
    "CALL threads=1",
    "UNWIND [1] AS x FOREACH (y IN [x] | CREATE (:Brand {id: 'y'}))",
    "MATCH (n) /* harmless? */ DELETE n",
    "MATCH (n) WITH n // comment\nDELETE n",
]

ALLOWED = [
    "MATCH (p:Product) WHERE p.title = 'DELETE me; CREATE (x)' RETURN p.id",
    'MATCH (p:Product) WHERE p.title CONTAINS "set" RETURN p.id AS id',
    "MATCH (p:Product) // CREATE nothing here\nRETURN p.id",
    "MATCH (p:Product) /* MERGE */ RETURN p.id",
    "MATCH (p:Product) RETURN p.set AS s, p.delete AS d",
    "RETURN $delete AS x, {create: 1, merge: 2} AS m",
    "MATCH (n:Create)-[:DELETE|SET]->(m) RETURN count(*)",
    "MATCH (`DELETE`:Product) RETURN `DELETE`.id",
    "CALL show_tables() RETURN *",
    "CALL db.labels() YIELD label RETURN label",
    "MATCH (p:Product) WHERE p.title = 'it\\'s DELETE' RETURN p.id",
    "MATCH (u:User)-[:PURCHASED]->(p) RETURN u.id, count(p) AS n ORDER BY n DESC LIMIT 5",
]


@pytest.mark.parametrize("cypher", REFUSED)
def test_write_clauses_are_refused_with_a_clear_message(cypher: str) -> None:
    with pytest.raises(WriteRefusedError, match="read-only statements only"):
        check_read_only(cypher)


@pytest.mark.parametrize("cypher", ALLOWED)
def test_reads_with_write_words_in_literals_comments_and_names_are_allowed(cypher: str) -> None:
    assert write_clauses(cypher) == []


def test_the_message_names_each_clause_and_where() -> None:
    assert write_clauses("MATCH (n) DETACH DELETE n") == ["DETACH (at character 10)", "DELETE (at character 17)"]
    assert "not a known read-only procedure" in write_clauses("CALL apoc.periodic.iterate('a', 'b', {})")[0]
    with pytest.raises(QueryError, match="empty query"):
        check_read_only("  // nothing\n")


# -- parameters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("k=10", ("k", 10)), ("x=-2.5", ("x", -2.5)), ("x=1e-3", ("x", 0.001)), ("b=true", ("b", True)),
    ("b=false", ("b", False)), ("n=null", ("n", None)), ("s=hello world", ("s", "hello world")),
    ("id=office:10", ("id", "office:10")), ('id="123"', ("id", "123")), ("id:str=123", ("id", "123")),
    ("k:int=7", ("k", 7)), ("f:float=3", ("f", 3.0)), ("b:bool=yes", ("b", True)),
    ("l:json=[1, \"a\"]", ("l", [1, "a"])), ("e=", ("e", "")), ("eq=a=b", ("eq", "a=b")),
])
def test_parameters_are_typed(spec: str, expected: tuple[str, object]) -> None:
    assert parse_param(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("novalue", "write name=value"), ("k:int=ten", "not a valid int"), ("k:date=1", "unknown type 'date'"),
    ("b:bool=maybe", "not a valid bool"), ("l:json=[1,", "not a valid json"), ("1x=2", "write name=value"),
])
def test_bad_parameters_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_param(spec)


def test_missing_and_unexpected_parameters_are_named() -> None:
    with pytest.raises(QueryError, match="twice"):
        parse_params(["a=1", "a=2"])
    with pytest.raises(QueryError, match=r"uses \$limit but no value was given: add --param limit=\.\.\."):
        check_against("MATCH (p) WHERE p.id = $id RETURN p LIMIT $limit", {"id": "x"})
    with pytest.raises(QueryError, match="--param extra given but the query has no such"):
        check_against("RETURN $id", {"id": 1, "extra": 2})
    check_against("RETURN '$notaparam' AS x // $nor_this", {})


# -- read-only execution against each backend ------------------------------------------------------------------


def test_run_read_only_reads_and_refuses_writes_on_every_backend(store: GraphStore) -> None:
    build_small_graph(store)
    rows = run_read_only(store, "MATCH (b:Brand) WHERE b.id <> $skip RETURN b.id AS id ORDER BY id", {"skip": "solo"})
    assert rows == [{"id": "acme"}, {"id": "zenith"}]
    with pytest.raises(WriteRefusedError):
        run_read_only(store, "MATCH (b:Brand) DETACH DELETE b", {})
    assert store.count_nodes()["Brand"] == 3


def test_the_embedded_store_opened_read_only_rejects_a_write_that_got_past_the_check(settings: Settings) -> None:
    with open_store(settings) as store:
        store.init_schema()
        build_small_graph(store)
    with open_store(settings, read_only=True) as store, pytest.raises(QueryError):
        store.query("MATCH (b:Brand) DETACH DELETE b")  # the second guard: the engine itself
    with open_store(settings, read_only=True) as store:
        assert store.count_nodes()["Brand"] == 3


# -- the command ------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("CARTOGRAPH_NEO4J_URI", "CARTOGRAPH_CONFIG", "CARTOGRAPH_EMBEDDED_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    settings = load_settings()
    with open_store(settings) as store:
        store.init_schema()
        build_small_graph(store)
    return settings


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["query", *args])
    return result.exit_code, " ".join(result.output.split())


def test_cli_query_prints_a_table_and_json(cli_graph: Settings) -> None:
    code, out = _invoke("MATCH (b:Brand) WHERE b.id STARTS WITH $p RETURN b.id AS id, b.name AS name", "-p", "p=ac")
    assert code == 0 and "┃ id ┃ name ┃" in out and "│ acme │ Acme │" in out and "1 row" in out
    result = CliRunner().invoke(app, ["query", "--name", "explore/user_recommendations", "-p", "user_id=u1",
                                      "-p", "limit:int=5", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["rank"], r["product_id"]) for r in rows] == [(1, "p4"), (2, "p2")]


def test_cli_query_refuses_writes_and_changes_nothing(cli_graph: Settings) -> None:
    code, out = _invoke("MATCH (n:Product) DETACH DELETE n")
    assert code == 1 and "refused" in out and "DELETE" in out
    code, out = _invoke("--name", "recs/drop_other_recommended", "--param", "model=x")
    assert code == 1 and "refused" in out  # a named query that writes is refused too
    with open_store(cli_graph, read_only=True) as store:
        assert store.count_nodes()["Product"] == 6 and store.count_relationships()["RECOMMENDED"] == 4


def test_cli_query_reports_parameter_and_usage_errors(cli_graph: Settings) -> None:
    code, out = _invoke("--name", "explore/user_neighbourhood", "--param", "user_id=u1")
    assert code == 1 and "missing ['limit']" in out
    code, out = _invoke("MATCH (p:Product {id: $id}) RETURN p.title AS t")
    assert code == 1 and "add --param id=..." in out
    code, out = _invoke("RETURN 1 AS x", "--name", "explore/quality_summary")
    assert code == 1 and "either a Cypher statement or --name" in out
    code, out = _invoke("--name", "explore/no_such_query")
    assert code == 1 and "no named query 'explore/no_such_query'" in out
    code, out = _invoke("MATCH (p:Product RETURN p")
    assert code == 1 and "rejected the statement" in out
