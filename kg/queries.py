"""Named, parameterised Cypher files in ``cypher/``.

A query named ``co_purchased`` lives in ``cypher/queries/co_purchased.cypher``; ``a/b`` in
``cypher/queries/a/b.cypher``. The analysts' kit is a top-level namespace of its own: ``explore/user_neighbourhood``
lives in ``cypher/explore/user_neighbourhood.cypher`` (see :data:`TOP_LEVEL_NAMESPACES`), so that Browser users find
it beside ``cypher/queries`` rather than inside it; a file of that name under ``queries/`` would win.
Where the embedded engine needs different text, ``<name>.kuzu.cypher`` (or ``<name>.neo4j.cypher``) beside it
overrides the portable file for that dialect only; each such file says why in its header. Values are always
``$parameters``; the loader checks that the caller passes exactly the parameters the text uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from kg.errors import NamedQueryNotFoundError, QueryError

Dialect = Literal["kuzu", "neo4j"]

#: Query-name prefixes that are folders directly under the cypher directory (not under ``queries/``).
TOP_LEVEL_NAMESPACES: frozenset[str] = frozenset({"explore"})

_NAME_RE = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
_PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# String literals and line comments in one left-to-right scan, so that a ``//`` inside a literal (a URL) is
# not taken for a comment, nor a quote inside a comment for a literal.
_LITERAL_OR_COMMENT_RE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|//[^\n]*")


def _without_comments(text: str, *, blank_literals: bool = False) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith("//"):
            return ""
        return "''" if blank_literals else token

    return _LITERAL_OR_COMMENT_RE.sub(replace, text)


@dataclass(frozen=True)
class NamedQuery:
    """One query file: its name, the dialect it was resolved for, and its text."""

    name: str
    dialect: Dialect
    path: Path
    text: str

    @cached_property
    def parameters(self) -> frozenset[str]:
        """The ``$names`` the statement uses (comments and string literals ignored)."""
        return parameters_of(self.text)

    @cached_property
    def header(self) -> dict[str, str]:
        """``// key: value`` lines at the top of the file (purpose, params, example...); a key repeated on
        consecutive lines is one value continued."""
        fields: dict[str, str] = {}
        for line in self.text.splitlines():
            stripped = line.strip()
            if not stripped.startswith("//"):
                break
            key, sep, value = stripped[2:].partition(":")
            if sep:  # a key repeated on the next lines continues its value
                key = key.strip().lower()
                fields[key] = f"{fields[key]} {value.strip()}" if key in fields else value.strip()
        return fields

    def check_parameters(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`QueryError` unless ``params`` has exactly the parameters the text uses."""
        missing = sorted(self.parameters - set(params))
        extra = sorted(set(params) - self.parameters)
        if missing or extra:
            raise QueryError(
                f"query {self.name!r} takes parameters {sorted(self.parameters)}; missing {missing}, unexpected {extra}"
            )


class QueryLibrary:
    """Finds named query files under ``<cypher_dir>/queries``. Reads files lazily; no I/O at construction."""

    def __init__(self, cypher_dir: Path) -> None:
        self.cypher_dir = Path(cypher_dir)

    @property
    def queries_dir(self) -> Path:
        return self.cypher_dir / "queries"

    def _roots(self, name: str) -> list[Path]:
        """Folders a query ``name`` may live in, in order of precedence."""
        roots = [self.queries_dir]
        if name.split("/", 1)[0] in TOP_LEVEL_NAMESPACES:
            roots.append(self.cypher_dir)
        return roots

    def get(self, name: str, dialect: Dialect) -> NamedQuery:
        """Return the query ``name`` for ``dialect`` (its dialect override when one exists)."""
        if not _NAME_RE.match(name):
            raise NamedQueryNotFoundError(
                f"invalid query name {name!r}: use lower-case words separated by '_' and '/', e.g. explore/user_items"
            )
        for root in self._roots(name):
            for candidate in (root / f"{name}.{dialect}.cypher", root / f"{name}.cypher"):
                if candidate.is_file():
                    return NamedQuery(name, dialect, candidate, candidate.read_text(encoding="utf-8"))
        raise NamedQueryNotFoundError(
            f"no named query {name!r} in {self.queries_dir} (known: {', '.join(self.names()) or 'none'})"
        )

    def names(self) -> list[str]:
        """All query names available (dialect overrides folded into their portable name)."""
        found = set()
        roots = [(self.queries_dir, self.queries_dir)]
        roots += [(self.cypher_dir / ns, self.cypher_dir) for ns in sorted(TOP_LEVEL_NAMESPACES)]
        for folder, base in roots:
            for path in folder.rglob("*.cypher"):
                rel = path.relative_to(base).as_posix().removesuffix(".cypher")
                for suffix in (".kuzu", ".neo4j"):
                    rel = rel.removesuffix(suffix)
                found.add(rel)
        return sorted(found)


def parameters_of(text: str) -> frozenset[str]:
    """The ``$names`` a Cypher text uses (line comments and string literals ignored)."""
    return frozenset(_PARAM_RE.findall(_without_comments(text, blank_literals=True)))


def split_statements(text: str) -> list[str]:
    """Split a DDL file into statements on ``;`` (comments removed; no ``;`` inside literals in DDL)."""
    body = _without_comments(text)
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]
