"""POST /events and POST /events/batch."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import ValidationError

from api.contract import error_responses, validation_errors
from api.deps import EventContext
from api.errors import PayloadTooLargeError, ServiceUnavailableError
from api.eventlog import EventLogError
from api.events import EVENT_RELATIONSHIP, RecentEvent
from api.feedback import EVENT_ACTION
from api.models import EventAccepted, EventBatchAccepted, EventBatchIn, EventIn, EventResult
from api.routes.present import json_response
from api.routes.products import product_index
from api.serving.index import ServingIndex
from api.state import ServiceState

router = APIRouter(tags=["events"])


def _remember(state: ServiceState, event: EventIn, ts: int) -> None:
    """What follows once an event is on disk: it joins the user's recent events (their next recommendations)
    and, when it came from a search, the search feedback."""
    state.recent.add(event.user_id, RecentEvent(event.product_id, event.type, ts))
    if event.query_id is not None:  # search feedback: kept for ranker training (api/feedback.py)
        state.feedback.event(event.query_id, event.user_id, event.product_id, event.position,
                             event.action or EVENT_ACTION[event.type])


@router.post("/events", response_model=EventAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 404, 413, 503))
async def post_event(event: EventIn, context: EventContext) -> Response:
    """Record a view, cart or purchase. Answered once the event is in the event log on disk (a crash after
    the answer loses nothing), and pooled at once into the user's next recommendations, without retraining.
    A background writer puts it into the graph within moments (cart as VIEWED: the schema has no cart
    relationship), or once a rebuild job lets go of the graph; no request waits for the graph. 503: the event
    log cannot be written, and the event is not recorded. Many events at once: POST /events/batch."""
    state, index = context
    product_index(index, event.product_id)
    ts = event.ts if event.ts is not None else int(time.time())
    try:  # async: waits for the group's fsync without holding a worker thread
        await state.events.append_async(event.user_id, event.product_id, event.type, ts)
    except EventLogError as e:
        raise ServiceUnavailableError("the event could not be recorded (event log not writable); retry") from e
    _remember(state, event, ts)
    state.metrics.events.labels(event.type).inc()
    return json_response(EventAccepted(user_id=event.user_id, product_id=event.product_id, type=event.type,
                                       stored_as=EVENT_RELATIONSHIP[event.type].value,
                                       recent_items=len(state.recent.get(event.user_id)), queued=True),
                         status_code=status.HTTP_202_ACCEPTED)


def _check_item(index: ServingIndex, i: int, item: Any) -> EventIn | EventResult:
    """The item as an event, or the result that refuses it (422 invalid, 404 unknown product)."""
    try:
        event = EventIn.model_validate(item)
    except ValidationError as e:
        issues = validation_errors({**err, "loc": ("body", "events", i, *err["loc"])} for err in e.errors())
        return EventResult.model_validate({"index": i, "status": 422, "detail": issues})
    if event.product_id not in index.catalog.product_index:
        return EventResult(index=i, status=404, detail=f"unknown product {event.product_id!r}")
    return event


@router.post("/events/batch", response_model=EventBatchAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 413, 503))
async def post_events(batch: EventBatchIn, context: EventContext) -> Response:
    """Record many events in one request (an event collector's flush): each item is an event as POST /events
    takes it, validated on its own. The valid ones are written to the event log together, with one fsync, and
    answered 202 in their result only once on disk; an invalid item (422) or one naming an unknown product
    (404) is answered in its result, with what is wrong, and is not recorded, while the others are. 413: more
    than ``CARTOGRAPH_EVENT_BATCH_MAX`` events (1000) or a body over ``CARTOGRAPH_EVENT_BATCH_MAX_BYTES``
    (1 MiB); nothing is recorded. 503: the event log cannot be written; none of the batch is recorded."""
    state, index = context
    limit = state.settings.event_batch_max
    if len(batch.events) > limit:
        raise PayloadTooLargeError(f"{len(batch.events)} events in one batch, over the limit of {limit}: "
                                   "send them in several batches")
    now = int(time.time())
    checked = [_check_item(index, i, item) for i, item in enumerate(batch.events)]
    valid = [(i, event, event.ts if event.ts is not None else now)
             for i, event in enumerate(checked) if isinstance(event, EventIn)]
    if valid:
        try:  # one submission: written whole, in one group commit, or not at all
            await state.events.append_many_async([(e.user_id, e.product_id, e.type, ts) for _, e, ts in valid])
        except EventLogError as e:
            raise ServiceUnavailableError("the events could not be recorded (event log not writable), none of "
                                          "them; retry") from e
    for i, event, ts in valid:
        _remember(state, event, ts)
        checked[i] = EventResult(index=i, status=202, stored_as=EVENT_RELATIONSHIP[event.type].value)
    for kind, count in Counter(event.type for _, event, _ in valid).items():
        state.metrics.events.labels(kind).inc(count)
    results = [result for result in checked if isinstance(result, EventResult)]
    body = EventBatchAccepted(accepted=len(valid), rejected=len(results) - len(valid), results=results)
    return Response(body.model_dump_json(exclude_none=True), status_code=status.HTTP_202_ACCEPTED,
                    media_type="application/json")
