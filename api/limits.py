"""Concurrency limits: graph-bound requests (explanations) share a few slots, so that they cannot take every
core and thread from the requests served from memory and from events.

A request that finds every slot taken is answered at once with 503 and ``Retry-After`` rather than queued:
a queue of graph queries would only grow while the graph is the bottleneck.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, status

from api.deps import StateDep

RETRY_AFTER_S = 1


async def graph_slot(state: StateDep) -> AsyncIterator[None]:
    """Hold one of ``settings.graph_concurrency`` slots for the request (503 + Retry-After when none is free)."""
    if not state.graph_slots.acquire(blocking=False):
        state.metrics.graph_busy.inc()
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)},
                            detail="too many graph queries in flight; retry after the Retry-After seconds")
    try:
        yield
    finally:
        state.graph_slots.release()


GraphSlotDep = Annotated[None, Depends(graph_slot)]
