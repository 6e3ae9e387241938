"""POST /events."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Response, status

from api.contract import error_responses
from api.deps import ClientKey, IndexDep, StateDep, StoreDep
from api.events import EVENT_RELATIONSHIP, RecentEvent, StoredEvent, store_event
from api.feedback import EVENT_ACTION
from api.models import EventAccepted, EventIn
from api.routes.products import product_index
from kg.errors import StoreError

router = APIRouter(tags=["events"])
log = logging.getLogger("cartograph.api")


@router.post("/events", response_model=EventAccepted, status_code=status.HTTP_201_CREATED,
             dependencies=[ClientKey],
             responses={202: {"model": EventAccepted, "description": "graph busy or down: event spooled"},
                        **error_responses(401, 404, 413, 503)})
def post_event(event: EventIn, index: IndexDep, state: StateDep, store: StoreDep, response: Response,
               ) -> EventAccepted:
    """Record a view, cart or purchase: written to the graph (cart as VIEWED: the schema has no cart
    relationship), and pooled at once into the user's next recommendations, without retraining. While the
    graph is unavailable (a rebuild job holds it) the event is spooled to disk and answered with 202."""
    product_index(index, event.product_id)
    ts = event.ts if event.ts is not None else int(time.time())
    queued = False
    try:
        state.spool.drain(store)  # events accepted while the graph was busy go first, in order
        stored_as = store_event(store, event.user_id, event.product_id, event.type, ts)
    except StoreError as e:
        log.warning("graph unavailable, event spooled to %s: %s", state.spool.path, str(e).splitlines()[0])
        state.spool.append(StoredEvent(event.user_id, event.product_id, event.type, ts))
        stored_as, queued = EVENT_RELATIONSHIP[event.type].value, True
        response.status_code = status.HTTP_202_ACCEPTED
    state.recent.add(event.user_id, RecentEvent(event.product_id, event.type, ts))
    if event.query_id is not None:  # search feedback: kept for ranker training (api/feedback.py)
        state.feedback.event(event.query_id, event.user_id, event.product_id, event.position,
                             event.action or EVENT_ACTION[event.type])
    state.metrics.events.labels(event.type).inc()
    return EventAccepted(user_id=event.user_id, product_id=event.product_id, type=event.type, stored_as=stored_as,
                         recent_items=len(state.recent.get(event.user_id)), queued=queued)
