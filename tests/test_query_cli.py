"""`cartograph query`: the write-clause tokenizer, typed parameters, read-only execution and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from explore_graph import build_small_graph
from typer.testing import CliRunner

from cartograph.cli import app
from kg.config import PROJECT_ROOT, Settings, load_settings
from kg.errors import QueryError, WriteRefusedError
from kg.explore.params import check_against, parse_param, parse_params
from kg.explore.readonly import check_read_only, refusals, run_read_only
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
    # issue 16: what the engine's read-only mode lets through, and what the deny-list missed
    "COPY (MATCH (p:Product) RETURN p.id) TO '/tmp/cartograph-leak.csv'",
    "EXPORT DATABASE '/tmp/cartograph-export'",
    "IMPORT DATABASE '/tmp/cartograph-export'",
    "LOAD FROM '/etc/passwd' (header = false) RETURN *",
    "LOAD httpfs",
    "MATCH (p:Product) UPDATE p",
    "UNINSTALL httpfs",
    "INSTALL httpfs",
    "COMMENT ON TABLE Product IS 'pwned'",
    "USE neo4j MATCH (n) RETURN n",
    "ATTACH '/tmp/other.lbug' AS other (dbtype lbug)",
    "DETACH other",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "ALTER TABLE Product ADD x INT64",
    "MATCH (p:Product) SET p.title = 'x' RETURN p",
    "MATCH (p:Product)-[r]->() DELETE r",
    "MATCH (p:Product) REMOVE p:Product",
    "MERGE (b:Brand {id: 'x'}) ON CREATE SET b.name = 'x'",
    "CALL db.createLabel('X')",
    "CALL dbms.setConfigValue('db.logs.query.enabled', 'off')",
    "CALL apoc.load.json('file:///etc/passwd') YIELD value RETURN value",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {})",
    "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n) RETURN n', {}) AS x",
    "CALL project_graph('g', ['Product'], [])",
    "LOAD CSV WITH HEADERS FROM 'file:///x.csv' AS row MERGE (:Brand {id: row.id})",
    "MATCH (n) CALL { WITH n SET n.x = 1 } IN TRANSACTIONS RETURN 1",
    "CREATE DATABASE other",
    "SHOW USERS",
    "PROFILE MATCH (n) RETURN n",
    "TRUNCATE Product",
    "MATCH (n) RETURN n UNION CREATE (m) RETURN m",
    "MATCH (n) WHERE EXISTS { CREATE (m) } RETURN n",
    "MATCH (n) RETURN n ORDER BY n.id DESC FUTURECLAUSE n",
    "MATCH (n) RETURN n /* unterminated comment DELETE n",
    "MATCH (n) RETURN n, `unterminated DELETE n",
    "MATCH (n) RETURN n, 'unterminated\\' DELETE n",
    "RETURN 1; RETURN 2",
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
    "MATCH (p:Product) WHERE p.title = 'a\\\\' RETURN p.id;",
    "OPTIONAL MATCH (p:Product) WITH p, 0x1F AS h UNWIND [1, 2] AS x RETURN p.id AS delete, x, h SKIP 1 LIMIT 2",
    "MATCH (p:Product) WHERE p.price IS NOT NULL AND p.title STARTS WITH 'a' RETURN CASE WHEN p.active THEN 1 "
    "ELSE 0 END AS a",
    "MATCH (p:Product) RETURN p.id UNION ALL MATCH (b:Brand) RETURN b.id",
    "MATCH (p:Product) WHERE EXISTS { MATCH (p)-[:MADE_BY]->(:Brand) } RETURN p {.id, .title}",
    "MATCH (p:Product) CALL { WITH p MATCH (p)<-[:PURCHASED]-(u) RETURN count(u) AS n } RETURN p.id, n",
    "MATCH (a:Product)-[e:ALSO_BOUGHT* SHORTEST 1..3]->(b:Product) RETURN length(e)",
    "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType",
    "CALL table_info('Product') RETURN *",
    "SHOW INDEXES YIELD name RETURN name",
    "RETURN apoc.text.join(['a', 'b'], ',') AS s",
    "MATCH (n) WHERE n.id = 'escaped\\' DETACH DELETE n //' RETURN n",  # one string: both engines escape \\'
    "MATCH (`a`` DELETE n //`:Product) RETURN 1",  # one backquoted name: both engines double ``
]


@pytest.mark.parametrize("cypher", REFUSED)
def test_write_clauses_are_refused_with_a_clear_message(cypher: str) -> None:
    with pytest.raises(WriteRefusedError, match="read statements only"):
        check_read_only(cypher)


@pytest.mark.parametrize("cypher", ALLOWED)
def test_reads_with_write_words_in_literals_comments_and_names_are_allowed(cypher: str) -> None:
    assert refusals(cypher) == []


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "cypher" / "explore").glob("*.cypher")), ids=lambda p: p.name)
def test_every_named_explore_query_passes_the_guard(path: Path) -> None:
    assert refusals(path.read_text(encoding="utf-8")) == []


def test_the_message_names_each_clause_and_where() -> None:
    assert refusals("MATCH (n) DETACH DELETE n") == ["DETACH (at character 10: not a read clause)",
                                                      "DELETE (at character 17: not a read clause)"]
    assert "not a read-only procedure on the allow-list" in refusals("CALL apoc.periodic.iterate('a', 'b', {})")[0]
    assert refusals("UNINSTALL httpfs") == ["UNINSTALL (at character 0: a statement must start with MATCH, "
                                            "OPTIONAL MATCH, WITH, UNWIND, RETURN, CALL or SHOW)"]
    assert refusals("MATCH (n) RETURN n; RETURN 1")[0] == "2 statements separated by ';' (one statement at a time)"
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


@pytest.mark.parametrize("cypher", REFUSED)
def test_every_refused_attempt_is_refused_on_every_backend_and_changes_nothing(
        cypher: str, store: GraphStore, tmp_path: Path) -> None:
    build_small_graph(store)
    before = store.count_nodes(), store.count_relationships()
    target = tmp_path / "written"
    attempt = cypher.replace("/tmp/cartograph-leak.csv", str(target)).replace("/tmp/cartograph-export", str(target))
    with pytest.raises(WriteRefusedError, match="read statements only"):
        run_read_only(store, attempt, {})
    assert (store.count_nodes(), store.count_relationships()) == before
    assert not target.exists()


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
