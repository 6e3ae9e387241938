"""One exception hierarchy for Cartograph.

Everything the product raises on purpose derives from :class:`CartographError`, so callers (the CLI,
the API) can catch one type and show its message. Lower-level errors are chained with ``raise ... from e``.
"""

from __future__ import annotations


class CartographError(Exception):
    """Root of every error Cartograph raises on purpose."""


class ConfigError(CartographError):
    """Settings are missing, contradictory or unreadable."""


class SchemaError(CartographError):
    """A label, relationship type or property is not in the graph schema's allow-list."""


class StoreError(CartographError):
    """A graph store operation failed."""


class StoreUnavailableError(StoreError):
    """The graph store cannot be reached or opened (server down, database locked by another process)."""


class QueryError(StoreError):
    """A Cypher statement was rejected or failed while running."""


class NamedQueryNotFoundError(QueryError):
    """No file in cypher/ carries the requested query name."""


class WriteRefusedError(QueryError):
    """A read-only execution (``cartograph query``) was given a statement that could change the graph."""


class ValidationError(CartographError):
    """Input data is malformed; the message says which record and why."""


class IngestAbortedError(CartographError):
    """An ingest could not publish what it loaded; the graph is as it was before the run."""


class ExtractionError(CartographError):
    """Entity extraction cannot run at all (no model, no endpoint, an endpoint refusing every request)."""


class RebuildError(CartographError):
    """A rebuild job cannot start or cannot go on (its inputs changed, a step failed)."""


class RebuildLockedError(RebuildError):
    """Another rebuild job holds the lock on this Cartograph home."""
