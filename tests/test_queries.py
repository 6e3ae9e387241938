"""The named query library: lookup, dialect overrides, parameter extraction, and every shipped file's header."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import PROJECT_ROOT
from kg.errors import NamedQueryNotFoundError, QueryError
from kg.queries import QueryLibrary, split_statements

LIBRARY = QueryLibrary(PROJECT_ROOT / "cypher")


def _library(tmp_path: Path, files: dict[str, str]) -> QueryLibrary:
    for name, text in files.items():
        path = tmp_path / "queries" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return QueryLibrary(tmp_path)


def test_dialect_override_wins_for_its_dialect_only(tmp_path: Path) -> None:
    lib = _library(tmp_path, {"a/q.cypher": "RETURN $x", "a/q.kuzu.cypher": "RETURN $x AS kuzu"})
    assert lib.get("a/q", "kuzu").text == "RETURN $x AS kuzu"
    assert lib.get("a/q", "neo4j").text == "RETURN $x"
    assert lib.names() == ["a/q"]


def test_parameters_ignore_comments_and_string_literals(tmp_path: Path) -> None:
    text = "// uses $not_a_param\nMATCH (p {id: $id}) WHERE p.t <> '$literal' RETURN p LIMIT $limit"
    query = _library(tmp_path, {"q.cypher": text}).get("q", "neo4j")
    assert query.parameters == {"id", "limit"}
    query.check_parameters({"id": 1, "limit": 2})
    with pytest.raises(QueryError, match="missing \\['limit'\\]"):
        query.check_parameters({"id": 1})


def test_a_double_slash_inside_a_literal_is_not_a_comment(tmp_path: Path) -> None:
    text = "MATCH (p) WHERE p.url STARTS WITH 'http://example.org' AND p.id = $id // trailing $comment\nRETURN p"
    query = _library(tmp_path, {"q.cypher": text}).get("q", "neo4j")
    assert query.parameters == {"id"}
    assert split_statements("CREATE (:A {u: 'http://x'}); // note; more\nRETURN 2") == [
        "CREATE (:A {u: 'http://x'})", "RETURN 2"]


@pytest.mark.parametrize("name", ["../x", "x/../../y", "Upper", "", "a//b", "q.cypher"])
def test_names_outside_the_library_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(NamedQueryNotFoundError):
        _library(tmp_path, {"q.cypher": "RETURN 1"}).get(name, "kuzu")


@pytest.mark.parametrize("name", LIBRARY.names())
def test_every_shipped_query_documents_purpose_params_and_example(name: str) -> None:
    for dialect in ("kuzu", "neo4j"):
        query = LIBRARY.get(name, dialect)  # type: ignore[arg-type]
        assert query.header.get("purpose"), f"{query.path} needs a '// purpose:' line"
        documented = set(query.header.get("params", "").replace("$", " $").split())
        for param in query.parameters:
            assert f"${param}" in {w.strip(",()") for w in documented}, f"{query.path}: ${param} undocumented"
        assert "example" in query.header


def test_split_statements_drops_comments_and_blanks() -> None:
    assert split_statements("// c\nCREATE A;\n\n  // d\nCREATE B ;\n") == ["CREATE A", "CREATE B"]
