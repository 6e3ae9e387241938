"""GET /health (liveness), GET /ready (readiness), GET /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.contract import redact_paths
from api.deps import StateDep
from api.metrics import CONTENT_TYPE
from api.models import Health, Ready, StoreHealth

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready, "description": "no bundle loaded"}})
def ready(state: StateDep, response: Response) -> Ready:
    """Readiness: a bundle is loaded (else 503). An unreachable graph store is reported as degraded, not
    fatal: recommendations, search and similar items are served from memory without it."""
    reachable, message = state.store_status()
    index = state.index
    if index is None:
        response.status_code = 503
    partial = index is not None and index.catalog.source != "store"
    return Ready(ready=index is not None, degraded=index is not None and (not reachable or partial),
                 bundle=index.summary() if index else None,
                 store=StoreHealth(reachable=reachable, message=redact_paths(message)),
                 detail=redact_paths(state.index_error or ""))


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(state: StateDep) -> Response:
    """Prometheus text format: requests and latency per route, bundle version, events, reloads."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
