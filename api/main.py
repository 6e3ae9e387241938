"""The FastAPI application: ``create_app(settings) -> FastAPI``.

Nothing happens at import. The lifespan, at startup: builds the settings (unless given), sets the torch
threads, opens the graph store (an unreachable store is reported by ``/ready`` as degraded, not fatal), loads
the query encoder, builds the serving index of the current bundle (no bundle: the service starts unready
and ``POST /admin/reload`` can load one later), opens the event log and starts its graph writer. Errors
raised as :class:`api.errors.ApiError` become ``{"detail": message}`` with their status; a store failure
becomes 503; :mod:`api.contract` holds these handlers, the body limit and the rest of the error contract.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api.contract import BodyLimitMiddleware, install_error_handlers
from api.metrics import ApiMetrics, MetricsMiddleware
from api.routes import admin, events, explanations, health, privacy, products, recommendations, search
from api.serving.query_encoder import QueryEncoder
from api.state import IndexLoader, ServiceState, default_loader
from kg.config import Settings, load_settings
from kg.errors import CartographError
from kg.store import GraphStore, open_store

log = logging.getLogger("cartograph.api")


def _open_store(settings: Settings) -> GraphStore:
    # shared: the embedded engine lets go of the file when idle or when a job asks for it, so rebuild jobs can
    # write the graph while the API serves (explanations answer 503 and events are queued until the job is done).
    store = open_store(settings, shared=True)  # no I/O yet
    try:
        store.ping()
    except CartographError as e:
        log.warning("graph store unreachable at startup (serving from memory, degraded): %s", e)
    return store


def _load_encoder(settings: Settings) -> QueryEncoder | None:
    from kg.text import TextEncoder

    try:
        encoder = QueryEncoder(TextEncoder(cache_dir=None))
        encoder.warm_up()
        return encoder
    except (OSError, ValueError, ImportError) as e:
        log.warning("no text model for dense search (lexical and graph retrieval only): %s", e)
        return None


def create_app(settings: Settings | None = None, *, loader: IndexLoader | None = None,
               encoder: QueryEncoder | None = None, store: GraphStore | None = None) -> FastAPI:
    """Build the app. ``settings=None``: read them at startup (environment, ``CARTOGRAPH_CONFIG``).

    ``loader``, ``encoder`` and ``store`` replace the defaults (tests share one text model between apps).
    """
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import torch
        from threadpoolctl import threadpool_limits

        s = settings or load_settings()
        # One request's matrix-vector product is far too small to share between threads; with two BLAS
        # threads per request on a busy 2-core machine a 1 ms product took 13 ms (spinning workers).
        torch.set_num_threads(s.serve_threads)
        blas_limits = threadpool_limits(limits=s.serve_threads, user_api="blas")
        st = store if store is not None else await anyio.to_thread.run_sync(_open_store, s)
        enc = encoder if encoder is not None else await anyio.to_thread.run_sync(_load_encoder, s)
        state = ServiceState(s, st, metrics, enc, loader or default_loader)
        await anyio.to_thread.run_sync(state.load_initial)
        await anyio.to_thread.run_sync(state.start_events)  # the event log and its graph writer
        state.start_watching()  # a bundle published by a rebuild is picked up without a call
        app.state.service = state
        try:
            yield
        finally:
            state.stop_watching()
            await anyio.to_thread.run_sync(state.stop_events)
            if store is None:  # a store passed in belongs to the caller
                state.close()
            blas_limits.restore_original_limits()

    app = FastAPI(
        title="Cartograph", version="0.1.0", lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks off: the API has its Prometheus metrics (api/metrics.py), and the
        # hooks' per-request provider checks cost about 6% of a POST /events.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        description="Knowledge-graph recommendations, graph-aware search, similar items and explanations.",
    )
    # The body limit is fixed when the app is built: a middleware cannot be added once it has started.
    limits = settings or Settings.model_construct()  # the fields' defaults, without reading the environment
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes,
                       path_limits={"/events/batch": limits.event_batch_max_bytes})
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)

    for module in (recommendations, search, products, explanations, events, privacy, health, admin):
        app.include_router(module.router)
    return app
