"""Graph stores: one interface (:class:`GraphStore`), an embedded backend and a Neo4j backend."""

from __future__ import annotations

from kg.config import Settings
from kg.queries import QueryLibrary
from kg.store.base import GraphStore, StoreCapabilities, UpsertResult


def open_store(settings: Settings, *, read_only: bool = False, shared: bool = False) -> GraphStore:
    """Build the configured store. No I/O happens until the first operation.

    ``shared``: a long-lived process (the API) that must let jobs in other processes write the graph; the
    embedded engine then lets go of its file when idle or when another process asks for it (Neo4j is shared
    by nature).
    """
    if settings.resolved_backend == "neo4j":
        from kg.store.neo4j import Neo4jStore

        return Neo4jStore.from_settings(settings)
    from kg.store.embedded import EmbeddedStore

    return EmbeddedStore(
        settings.embedded_path, QueryLibrary(settings.cypher_dir), settings.batch_size, read_only=read_only,
        release_between_calls=shared, buffer_pool_mb=settings.serving_buffer_pool_mb if shared else 0,
    )


__all__ = ["GraphStore", "StoreCapabilities", "UpsertResult", "open_store"]
