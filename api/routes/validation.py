"""Checks on free text (search queries) beyond length: control characters and statement-like input.

No value ever reaches Cypher as text (the search runs in memory; the store gets parameters only), so an
injection attempt cannot do harm here. It is still refused with a 422 that says why: a query that looks like
Cypher or SQL is a client bug or a probe, and answering it with "0 results" would hide either.
"""

from __future__ import annotations

import re

from api.errors import InvalidRequestError
from api.serving.text import normalize

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CYPHER = re.compile(
    r"(?i)\b(match|merge|create|delete|detach|call|unwind|load\s+csv|return|optional\s+match)\b[^\n]*[(\[{$]"
    r"|[)\]]\s*-\s*\[|\]\s*->"
    r"|[})\]]\s*(detach|delete|set|remove|return|match|merge|create|with|union|call)\b"
)
_SQL = re.compile(r"(?i)(['\"`]\s*(or|and)\s+['\"`]?\w+['\"`]?\s*=|;\s*(drop|delete|insert|update|select)\b"
                  r"|\bunion\s+(all\s+)?select\b|--\s*$|/\*|\*/)")


def check_query_text(q: str) -> str:
    """``q`` stripped, or :class:`InvalidRequestError` with the reason."""
    text = q.strip()
    if not text:
        raise InvalidRequestError("query is empty", location=("query", "q"))
    if _CONTROL.search(text):
        raise InvalidRequestError("query contains control characters", location=("query", "q"))
    if _CYPHER.search(text) or _SQL.search(text):
        raise InvalidRequestError("query looks like a database statement; search takes plain words",
                                  location=("query", "q"))
    if not normalize(text):
        raise InvalidRequestError("query has no letters or digits to search for", location=("query", "q"))
    return text
