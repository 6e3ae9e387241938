"""The Neo4j backend over Bolt with the official driver.

The driver is passed in (or built by :meth:`Neo4jStore.from_settings`, which does no I/O: the driver
connects lazily), so tests and applications control its lifetime and configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import neo4j
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired

from kg.config import Settings
from kg.errors import ConfigError, QueryError, StoreUnavailableError
from kg.queries import Dialect, QueryLibrary
from kg.store.base import GraphStore, Record, StoreCapabilities


def _plain(value: Any) -> Any:
    if isinstance(value, neo4j.graph.Node | neo4j.graph.Relationship):
        return dict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Neo4jStore(GraphStore):
    """Graph store on a Neo4j server.

    Args:
        driver: a ``neo4j.Driver``; the store closes it on :meth:`close` only if ``owns_driver``.
        queries: named query library.
        database: database name (the server's default when ``None``).
        batch_size: rows per ``UNWIND`` statement.
        owns_driver: close the driver when the store is closed.
    """

    dialect: ClassVar[Dialect] = "neo4j"
    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        embedded=False, bulk_copy=False, concurrent_processes=True
    )

    def __init__(
        self,
        driver: Driver,
        queries: QueryLibrary,
        database: str | None = None,
        batch_size: int = 1000,
        *,
        owns_driver: bool = False,
    ) -> None:
        super().__init__(queries, batch_size)
        self.driver = driver
        self.database = database
        self.owns_driver = owns_driver

    @classmethod
    def from_settings(cls, settings: Settings) -> Neo4jStore:
        if not settings.neo4j_uri:
            raise ConfigError("CARTOGRAPH_NEO4J_URI is not set")
        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else ""
        # No notifications: the server would otherwise send one per statement that names a relationship type the
        # graph has none of yet (VIEWED, RATED on a purchases-only catalog), which the driver logs as a warning.
        driver = GraphDatabase.driver(settings.neo4j_uri, auth=(settings.neo4j_user, password),
                                      notifications_min_severity="OFF")
        return cls(
            driver,
            QueryLibrary(settings.cypher_dir),
            database=settings.neo4j_database,
            batch_size=settings.batch_size,
            owns_driver=True,
        )

    def _execute(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        try:
            result = self.driver.execute_query(cypher, parameters_=dict(params or {}), database_=self.database)
        except (ServiceUnavailable, SessionExpired, AuthError) as e:
            raise StoreUnavailableError(f"Neo4j is not reachable: {e}") from e
        except Neo4jError as e:
            raise QueryError(f"Neo4j rejected the statement: {e}\n--- statement ---\n{cypher}") from e
        return [{k: _plain(v) for k, v in record.items()} for record in result.records]

    def ping(self) -> None:
        try:
            self.driver.verify_connectivity()
        except (ServiceUnavailable, SessionExpired, AuthError, OSError) as e:
            raise StoreUnavailableError(f"Neo4j is not reachable: {e}") from e

    def close(self) -> None:
        if self.owns_driver:
            self.driver.close()
