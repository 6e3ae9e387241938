"""Read-only Cypher: an allow-list guard over the statement's tokens, and a read-only runner.

``cartograph query`` runs a statement only when every part of it is on the allow-list (:func:`refusals`):

- it is **one** statement (a trailing ``;`` is fine) that starts with a reading clause: ``MATCH``,
  ``OPTIONAL MATCH``, ``WITH``, ``UNWIND``, ``RETURN``, ``CALL`` or Neo4j's ``SHOW INDEXES|CONSTRAINTS|
  PROCEDURES|FUNCTIONS``; so does every sub-statement (``UNION``, ``CALL { ... }``, ``EXISTS { ... }``);
- a word in clause position (after the end of an expression: a name, a literal, ``)``, ``]``, ``}``, or a
  closing keyword such as ``DESC``) is one of :data:`READ_KEYWORDS`, so an unknown or future clause is
  refused, not let through;
- no word anywhere (outside names) is a clause of either engine that writes, touches files or the session
  (:data:`WRITE_WORDS`: a second net for places where clause position is ambiguous);
- ``CALL`` names a procedure on :data:`READ_ONLY_PROCEDURES` (``CALL name = value``, a Kuzu setting, is
  refused), and a function call in the ``apoc`` namespace is refused unless its namespace is a pure one
  (:data:`READ_ONLY_APOC_NAMESPACES`: ``apoc.cypher.run...`` could run anything).

The tokenizer keeps string literals (with the backslash escapes both engines use), backquoted names and
comments whole, so ``WHERE p.title = 'DELETE me'`` runs and a keyword cannot hide in, or behind, a comment; an
unterminated literal or comment is refused (the engine would read the rest differently). A word is a name,
not a clause, after ``.`` (property), ``$`` (parameter), ``:`` or ``|`` (label, relationship type) or ``AS``
(alias), and before ``:`` (map key).

This check is the first of two guards: the embedded store is also opened read-only, and Neo4j statements are
sent in a READ-routed transaction, which the server refuses to write in. (The embedded engine's read-only mode
alone still runs ``COPY ... TO``, ``EXPORT DATABASE`` and ``LOAD FROM``: only this guard stops them.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kg.errors import QueryError, StoreUnavailableError, WriteRefusedError
from kg.store.base import GraphStore, Record

#: Words a statement (or sub-statement) may start with.
STATEMENT_STARTS: frozenset[str] = frozenset({"MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN", "CALL", "SHOW"})

#: What ``SHOW`` may list (Neo4j's read-only introspection commands).
SHOW_TARGETS: frozenset[str] = frozenset({
    "INDEX", "INDEXES", "CONSTRAINT", "CONSTRAINTS", "PROCEDURE", "PROCEDURES", "FUNCTION", "FUNCTIONS",
    "ALL", "BUILT", "USER", "DEFINED", "RANGE", "TEXT", "POINT", "LOOKUP", "FULLTEXT", "VECTOR", "UNIQUE",
    "EXIST", "EXISTENCE", "KEY", "NODE", "RELATIONSHIP", "PROPERTY", "TYPE", "IN",
})

#: Every keyword a read statement may use in clause or operator position (both dialects).
READ_KEYWORDS: frozenset[str] = STATEMENT_STARTS | SHOW_TARGETS | frozenset({
    "WHERE", "ORDER", "BY", "SKIP", "LIMIT", "ASC", "ASCENDING", "DESC", "DESCENDING", "DISTINCT", "AS",
    "AND", "OR", "XOR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "CASE", "WHEN", "THEN", "ELSE", "END",
    "STARTS", "ENDS", "CONTAINS", "UNION", "ALL", "YIELD", "EXISTS", "COUNT", "COLLECT", "ANY", "NONE",
    "SINGLE", "SHORTEST", "ALLSHORTEST", "WSHORTEST", "ALL_SHORTEST", "TRAIL", "ACYCLIC", "OFFSET",
    "NAN", "INF", "INFINITY", "FILTER", "EXTRACT", "REDUCE", "WALK", "PATH", "PATHS", "GROUPS", "GROUP",
})

#: Words that are never a read, wherever they stand (outside names): clauses that write data or the schema,
#: touch files, extensions, transactions, databases or the session, in Neo4j 5 and Kuzu/LadybugDB.
WRITE_WORDS: frozenset[str] = frozenset({
    "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "COPY", "LOAD", "FOREACH",
    "INSTALL", "UNINSTALL", "ATTACH", "IMPORT", "EXPORT", "CHECKPOINT", "BEGIN", "COMMIT", "ROLLBACK",
    "GRANT", "REVOKE", "DENY", "TERMINATE", "RENAME", "UPDATE", "COMMENT", "USE", "INSERT", "UPSERT",
    "TRUNCATE", "TRANSACTION", "TRANSACTIONS", "PERIODIC", "PROFILE", "EXPLAIN",
})

#: Procedures a read-only query may CALL (lower case). Kuzu's catalog functions and Neo4j's schema introspection.
READ_ONLY_PROCEDURES: frozenset[str] = frozenset({
    # Kuzu / LadybugDB
    "show_tables", "table_info", "show_connection", "show_functions", "show_indexes", "show_sequences",
    "show_attached_databases", "show_warnings", "db_version", "current_setting", "show_loaded_extensions",
    "show_projected_graphs",
    # Neo4j
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties", "db.indexes", "db.constraints", "db.info",
    "dbms.components", "db.index.fulltext.querynodes", "db.index.fulltext.queryrelationships",
    "apoc.meta.stats", "apoc.meta.schema", "apoc.meta.data", "apoc.meta.graph",
})

#: APOC function namespaces that only compute on their arguments (``apoc.text.join(...)``).
READ_ONLY_APOC_NAMESPACES: frozenset[str] = frozenset({
    "apoc.coll", "apoc.text", "apoc.map", "apoc.convert", "apoc.math", "apoc.number", "apoc.date",
    "apoc.temporal", "apoc.util.md5", "apoc.util.sha1", "apoc.util.sha256", "apoc.label", "apoc.node",
    "apoc.rel", "apoc.any", "apoc.meta",
})

#: Keywords after which a subquery body ``{ ... }`` starts a statement.
_SUBQUERY_OPENERS = frozenset({"CALL", "EXISTS", "COUNT", "COLLECT"})
#: Keywords that end an expression, so that a word after them stands in clause position.
_CLOSING_KEYWORDS = frozenset({"ASC", "ASCENDING", "DESC", "DESCENDING", "NULL", "TRUE", "FALSE", "END",
                               "NAN", "INF", "INFINITY"})

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^'\\]|\\.)*(?:'|\Z)|"(?:[^"\\]|\\.)*(?:"|\Z))
  | (?P<quoted>`(?:[^`]|``)*(?:`|\Z))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>0[xX][0-9A-Fa-f]+|0[oO][0-7]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
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
    """The significant tokens of ``cypher``: whitespace and comments dropped, literals kept whole.

    Raises :class:`WriteRefusedError` for a literal, name or comment left open: what the engine makes of the
    rest is not what this tokenizer would check."""
    for match in _TOKEN_RE.finditer(cypher):
        kind, text = match.lastgroup or "other", match.group()
        if _unterminated(kind, text):
            raise WriteRefusedError(f"refused: `cartograph query` runs read statements only, and this one has an "
                                    f"unterminated {kind.replace('_', ' ')} at character {match.start()}")
        if kind not in ("space", "line_comment", "block_comment"):
            yield Token(kind, text, match.start())


def _unterminated(kind: str, text: str) -> bool:
    if kind == "block_comment":
        return not text.endswith("*/") or len(text) < 4
    if kind == "string":
        return len(text) < 2 or text[-1] != text[0] or _odd_backslashes_before_end(text)
    if kind == "quoted":
        return len(text) < 2 or not text.endswith("`") or (len(text) - len(text.rstrip("`"))) % 2 == 0
    return False


def _odd_backslashes_before_end(text: str) -> bool:
    body = text[1:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def _is_name(toks: list[Token], i: int) -> bool:
    """Whether the word ``toks[i]`` is a name (property, parameter, label, type, alias, map key), not a keyword."""
    before = toks[i - 1].text if i > 0 else ""
    after = toks[i + 1].text if i + 1 < len(toks) else ""
    return before in (".", "$", ":", "|") or after == ":" or before.upper() == "AS"


def _ends_expression(toks: list[Token], i: int) -> bool:
    """Whether ``toks[i]`` can end an expression (so a word right after it stands where a clause would)."""
    tok = toks[i]
    if tok.kind in ("number", "string", "quoted") or tok.text in (")", "]", "}"):
        return True
    if tok.kind != "word":
        return False
    return _is_name(toks, i) or tok.text.upper() not in READ_KEYWORDS or tok.text.upper() in _CLOSING_KEYWORDS


def refusals(cypher: str) -> list[str]:
    """Why ``cypher`` is not an allowed read: one entry per refused part, with its position (empty: allowed)."""
    toks = list(tokens(cypher))
    found: list[str] = []
    statements = _statement_count(toks)
    if statements > 1:
        found.append(f"{statements} statements separated by ';' (one statement at a time)")
    starts = _statement_starts(toks)
    refused_at = -2  # a word right after a refused one is its argument, not news: not reported again
    for i, tok in enumerate(toks):
        if tok.kind != "word" or _is_name(toks, i):
            continue
        word, where, before = tok.text.upper(), f"at character {tok.position}", len(found)
        if i in starts and word not in STATEMENT_STARTS:
            found.append(f"{tok.text} ({where}: a statement must start with "
                         "MATCH, OPTIONAL MATCH, WITH, UNWIND, RETURN, CALL or SHOW)")
        elif word in WRITE_WORDS:
            found.append(f"{tok.text} ({where}: not a read clause)")
        elif i > 0 and _ends_expression(toks, i - 1) and word not in READ_KEYWORDS:
            if refused_at != i - 1:
                found.append(f"{tok.text} ({where}: not a read clause)")
        elif word == "SHOW" and i + 1 < len(toks) and toks[i + 1].text.upper() not in SHOW_TARGETS:
            found.append(f"SHOW {toks[i + 1].text} ({where}: only SHOW INDEXES, CONSTRAINTS, PROCEDURES or FUNCTIONS)")
        elif word == "CALL" and i + 1 < len(toks) and toks[i + 1].kind in ("word", "quoted"):
            found.extend(_call_refusal(toks, i))
        elif toks[i + 1:i + 2] and toks[i + 1].text == "." and word == "APOC":
            found.extend(_apoc_function_refusal(toks, i))
        if len(found) > before or (refused_at == i - 1 and word not in READ_KEYWORDS):
            refused_at = i
    return found


def _statement_count(toks: list[Token]) -> int:
    parts, current = 0, False
    for tok in toks:
        if tok.text == ";":
            parts, current = parts + int(current), False
        else:
            current = True
    return parts + int(current)


def _statement_starts(toks: list[Token]) -> set[int]:
    """Indexes of tokens that start a statement or sub-statement (first token, after ``;``, after ``UNION
    [ALL]``, the first token of a ``CALL``/``EXISTS``/``COUNT``/``COLLECT { ... }`` body that is a word)."""
    starts = {0} if toks else set()
    for i, tok in enumerate(toks):
        word = tok.text.upper() if tok.kind == "word" else ""
        if tok.text == ";" or word == "UNION":
            j = i + 1 + (i + 1 < len(toks) and toks[i + 1].text.upper() in ("ALL", "DISTINCT"))
            starts.add(j)
        elif tok.text == "{" and i > 0 and _opens_subquery(toks, i) and _word_not_key(toks, i + 1):
            starts.add(i + 1)
    return starts


def _word_not_key(toks: list[Token], i: int) -> bool:
    return i < len(toks) and toks[i].kind == "word" and not (i + 1 < len(toks) and toks[i + 1].text == ":")


def _opens_subquery(toks: list[Token], brace: int) -> bool:
    """``{`` right after CALL/EXISTS/COUNT/COLLECT, or after ``CALL (...)`` (Neo4j's scoped subquery)."""
    before = toks[brace - 1]
    if before.kind == "word" and before.text.upper() in _SUBQUERY_OPENERS and not _is_name(toks, brace - 1):
        return True
    if before.text != ")":
        return False
    depth, j = 0, brace - 1
    while j >= 0:
        depth += {")": 1, "(": -1}.get(toks[j].text, 0)
        if depth == 0:
            return j > 0 and toks[j - 1].text.upper() == "CALL"
        j -= 1
    return False


def _call_refusal(toks: list[Token], i: int) -> list[str]:
    name, end = _dotted_name(toks, i + 1)
    where = f"at character {toks[i].position}"
    if end < len(toks) and toks[end].text == "=":
        return [f"CALL {name}=... ({where}: changes a setting)"]
    if name.lower() not in READ_ONLY_PROCEDURES:
        return [f"CALL {name} ({where}: not a read-only procedure on the allow-list)"]
    return []


def _apoc_function_refusal(toks: list[Token], i: int) -> list[str]:
    name, _ = _dotted_name(toks, i)
    lowered = name.lower()
    if any(lowered == ns or lowered.startswith(ns + ".") for ns in READ_ONLY_APOC_NAMESPACES):
        return []
    if i > 0 and toks[i - 1].text.upper() == "CALL":
        return []  # a procedure: judged by _call_refusal
    return [f"{name} (at character {toks[i].position}: an APOC function outside the pure namespaces)"]


def _dotted_name(toks: list[Token], start: int) -> tuple[str, int]:
    """A dotted name starting at ``toks[start]``; returns it and the index after it."""
    parts = [toks[start].text.strip("`")]
    i = start + 1
    while i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].kind in ("word", "quoted"):
        parts.append(toks[i + 1].text.strip("`"))
        i += 2
    return ".".join(parts), i


write_clauses = refusals
"""The former name of :func:`refusals`."""


def check_read_only(cypher: str) -> None:
    """Raise :class:`WriteRefusedError` naming every part of ``cypher`` that is not an allowed read."""
    if not any(True for _ in tokens(cypher)):
        raise QueryError("empty query (nothing but comments or spaces): give a Cypher statement or --name <query>")
    offending = refusals(cypher)
    if offending:
        raise WriteRefusedError(
            "refused: `cartograph query` runs read statements only (MATCH, OPTIONAL MATCH, WITH, UNWIND, RETURN, "
            "CALL of a read procedure), and this one has "
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
