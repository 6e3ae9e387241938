"""POST /events."""

from __future__ import annotations

import time

from fastapi import APIRouter, status

from api.contract import error_responses
from api.deps import ClientKey, IndexDep, StateDep
from api.errors import ServiceUnavailableError
from api.eventlog import EventLogError
from api.events import EVENT_RELATIONSHIP, RecentEvent
from api.feedback import EVENT_ACTION
from api.models import EventAccepted, EventIn
from api.routes.products import product_index

router = APIRouter(tags=["events"])


@router.post("/events", response_model=EventAccepted, status_code=status.HTTP_202_ACCEPTED,
             dependencies=[ClientKey], responses=error_responses(401, 404, 413, 503))
async def post_event(event: EventIn, index: IndexDep, state: StateDep) -> EventAccepted:
    """Record a view, cart or purchase. Answered once the event is in the event log on disk (a crash after
    the answer loses nothing), and pooled at once into the user's next recommendations, without retraining.
    A background writer puts it into the graph within moments (cart as VIEWED: the schema has no cart
    relationship), or once a rebuild job lets go of the graph; no request waits for the graph. 503: the event
    log cannot be written, and the event is not recorded."""
    product_index(index, event.product_id)
    ts = event.ts if event.ts is not None else int(time.time())
    try:  # async: waits for the group's fsync without holding a worker thread
        await state.events.append_async(event.user_id, event.product_id, event.type, ts)
    except EventLogError as e:
        raise ServiceUnavailableError("the event could not be recorded (event log not writable); retry") from e
    state.recent.add(event.user_id, RecentEvent(event.product_id, event.type, ts))
    if event.query_id is not None:  # search feedback: kept for ranker training (api/feedback.py)
        state.feedback.event(event.query_id, event.user_id, event.product_id, event.position,
                             event.action or EVENT_ACTION[event.type])
    state.metrics.events.labels(event.type).inc()
    return EventAccepted(user_id=event.user_id, product_id=event.product_id, type=event.type,
                         stored_as=EVENT_RELATIONSHIP[event.type].value,
                         recent_items=len(state.recent.get(event.user_id)), queued=True)
