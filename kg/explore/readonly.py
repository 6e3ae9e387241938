"""Read-only Cypher: a tokenizer that finds clauses which could change the graph, and a read-only runner.

``cartograph query`` refuses a statement before it reaches the engine when a token is a write clause
(``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``, ``DROP``, ``COPY``, ``LOAD``...) or ``CALL``s a procedure
that is not on a read-only allow-list. The tokenizer skips string literals, comments and backquoted names, and
does not take a word for a clause where it is a property (``p.set``), a parameter (``$delete``), a label or a
relationship type (``:Create``, ``|DELETE``) or a map key (``{merge: 1}``): so ``WHERE p.title = 'DELETE me'``
runs and ``MATCH (n) DETACH DELETE n`` does not.

This check is the first of two guards: the embedded store is also opened read-only, and Neo4j statements are
sent in a READ-routed transaction, which the server refuses to write in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kg.errors import QueryError, StoreUnavailableError, WriteRefusedError
from kg.store.base import GraphStore, Record

#: Words that start a clause able to change data, the schema, files or the session (Neo4j 5 and Kuzu 0.11).
WRITE_CLAUSES: frozenset[str] = frozenset({
    "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "COPY", "LOAD", "FOREACH",
    "INSTALL", "ATTACH", "IMPORT", "EXPORT", "CHECKPOINT", "BEGIN", "COMMIT", "ROLLBACK", "GRANT", "REVOKE",
    "DENY", "TERMINATE", "START", "STOP", "ENABLE", "RENAME",
})

#: Procedures a read-only query may CALL (lower case). Kuzu's catalog functions and Neo4j's schema introspection.
READ_ONLY_PROCEDURES: frozenset[str] = frozenset({
    # Kuzu
    "show_tables", "table_info", "show_connection", "show_functions", "show_indexes", "show_sequences",
    "show_attached_databases", "show_warnings", "db_version", "current_setting", "show_loaded_extensions",
    "show_projected_graphs",
    # Neo4j
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties", "db.indexes", "db.constraints", "db.info",
    "dbms.components", "db.index.fulltext.querynodes", "db.index.fulltext.queryrelationships",
    "apoc.meta.stats", "apoc.meta.schema", "apoc.meta.data", "apoc.meta.graph",
})

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^'\\]|\\.)*(?:'|\Z)|"(?:[^"\\]|\\.)*(?:"|\Z))
  | (?P<quoted>`(?:[^`]|``)*(?:`|\Z))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str
    """``word``, ``number``, ``string``, ``quoted`` (a backquoted name) or ``other`` (one character)."""
    text: str
    position: int


def tokens(cypher: str) -> Iterator[Token]:
    """The significant tokens of ``cypher``: whitespace and comments dropped, literals kept whole."""
    for match in _TOKEN_RE.finditer(cypher):
        kind = match.lastgroup or "other"
        if kind not in ("space", "line_comment", "block_comment"):
            yield Token(kind, match.group(), match.start())


def write_clauses(cypher: str) -> list[str]:
    """Why ``cypher`` is not read-only: one entry per offending clause or procedure call (empty: read-only)."""
    toks = list(tokens(cypher))
    found: list[str] = []
    for i, tok in enumerate(toks):
        if tok.kind != "word":
            continue
        before = toks[i - 1].text if i > 0 else ""
        after = toks[i + 1].text if i + 1 < len(toks) else ""
        if before in (".", "$", ":", "|") or after == ":":
            continue  # a property, parameter, label, relationship type or map key: a name, not a clause
        word = tok.text.upper()
        if word in WRITE_CLAUSES:
            found.append(f"{word} (at character {tok.position})")
        elif word == "CALL" and toks[i + 1:i + 2] and toks[i + 1].kind in ("word", "quoted"):
            name, end = _procedure_name(toks, i + 1)
            if end < len(toks) and toks[end].text == "=":
                found.append(f"CALL {name}=... changes a setting (at character {tok.position})")
            elif name.lower() not in READ_ONLY_PROCEDURES:
                found.append(f"CALL {name} (at character {tok.position}: not a known read-only procedure)")
    return found


def _procedure_name(toks: list[Token], start: int) -> tuple[str, int]:
    """A dotted procedure name starting at ``toks[start]``; returns it and the index after it."""
    parts = [toks[start].text.strip("`")]
    i = start + 1
    while i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].kind in ("word", "quoted"):
        parts.append(toks[i + 1].text.strip("`"))
        i += 2
    return ".".join(parts), i


def check_read_only(cypher: str) -> None:
    """Raise :class:`WriteRefusedError` naming every clause of ``cypher`` that could change the graph."""
    if not any(True for _ in tokens(cypher)):
        raise QueryError("empty query (nothing but comments or spaces): give a Cypher statement or --name <query>")
    offending = write_clauses(cypher)
    if offending:
        raise WriteRefusedError(
            "refused: `cartograph query` runs read-only statements only, and this one has "
            + "; ".join(offending)
            + ". Write through the commands that own the data (ingest, extract, export-recs)."
        )


def run_read_only(store: GraphStore, cypher: str, params: Mapping[str, Any]) -> list[Record]:
    """Check ``cypher`` and run it without write access: the embedded store should be opened read-only;
    on Neo4j the statement runs in a READ-routed transaction (the server refuses writes in it)."""
    check_read_only(cypher)
    if store.dialect == "neo4j":
        return _neo4j_read(store, cypher, params)
    return store.query(cypher, params)


def _neo4j_read(store: GraphStore, cypher: str, params: Mapping[str, Any]) -> list[Record]:
    from neo4j import RoutingControl
    from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

    from kg.store.neo4j import Neo4jStore, _plain

    assert isinstance(store, Neo4jStore)
    try:
        result = store.driver.execute_query(cypher, parameters_=dict(params), database_=store.database,
                                            routing_=RoutingControl.READ)
    except (ServiceUnavailable, SessionExpired) as e:
        raise StoreUnavailableError(f"Neo4j is not reachable: {e}") from e
    except Neo4jError as e:
        raise QueryError(f"Neo4j rejected the statement: {e}") from e
    return [{k: _plain(v) for k, v in record.items()} for record in result.records]
