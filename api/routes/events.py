"""POST /events."""

from __future__ import annotations

import time

from fastapi import APIRouter, status

from api.deps import IndexDep, StateDep, StoreDep
from api.errors import ServiceUnavailableError
from api.events import RecentEvent, store_event
from api.models import EventAccepted, EventIn
from api.routes.products import product_index
from kg.errors import StoreError

router = APIRouter(tags=["events"])


@router.post("/events", response_model=EventAccepted, status_code=status.HTTP_201_CREATED)
def post_event(event: EventIn, index: IndexDep, state: StateDep, store: StoreDep) -> EventAccepted:
    """Record a view, cart or purchase: written to the graph (cart as VIEWED: the schema has no cart
    relationship), and pooled at once into the user's next recommendations, without retraining."""
    product_index(index, event.product_id)
    ts = event.ts if event.ts is not None else int(time.time())
    try:
        stored_as = store_event(store, event.user_id, event.product_id, event.type, ts)
    except StoreError as e:
        raise ServiceUnavailableError(f"graph store unavailable, event not recorded: {str(e).splitlines()[0]}") \
            from e
    state.recent.add(event.user_id, RecentEvent(event.product_id, event.type, ts))
    state.metrics.events.labels(event.type).inc()
    return EventAccepted(user_id=event.user_id, product_id=event.product_id, type=event.type, stored_as=stored_as,
                         recent_items=len(state.recent.get(event.user_id)))
