"""Typed FastAPI dependencies. Tests override them with ``app.dependency_overrides[get_index] = ...``.

They are ``async def`` on purpose: they do no I/O, and a plain ``def`` dependency would cost every request a
trip through the thread pool.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, Request

from api.errors import ServiceUnavailableError, UnauthorizedError
from api.serving.index import ServingIndex
from api.state import ServiceState
from kg.config import Settings
from kg.store import GraphStore


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_index(state: StateDep) -> ServingIndex:
    """The index serving now (read once per request: a reload does not change it mid-request)."""
    index = state.index
    if index is None:
        raise ServiceUnavailableError(state.index_error or "no bundle loaded yet")
    return index


async def get_store(state: StateDep) -> GraphStore:
    if state.store is None:
        raise ServiceUnavailableError("no graph store configured")
    return state.store


async def get_settings(state: StateDep) -> Settings:
    return state.settings


def check_key(expected: str, given: str | None) -> None:
    """:class:`UnauthorizedError` unless ``given`` is ``expected`` (compared in constant time)."""
    if given is None:
        raise UnauthorizedError("missing X-API-Key header")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise UnauthorizedError("wrong API key")


async def require_client_key(
    settings: Annotated[Settings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Header(max_length=256, description="the client key, when "
                                            "CARTOGRAPH_API_KEY is set")] = None,
) -> None:
    """Writes and per-user reads need ``CARTOGRAPH_API_KEY`` when one is configured; none: they are open."""
    if settings.api_key is not None and settings.api_key.get_secret_value():
        check_key(settings.api_key.get_secret_value(), x_api_key)


async def event_context(
    request: Request,
    x_api_key: Annotated[str | None, Header(max_length=256, description="the client key, when "
                                            "CARTOGRAPH_API_KEY is set")] = None,
) -> tuple[ServiceState, ServingIndex]:
    """What POST /events needs, in one dependency: the client key check, the state and the index serving now.
    The same checks as :data:`ClientKey`, :data:`StateDep` and :data:`IndexDep`; one dependency instead of
    five nested ones, because FastAPI's dependency solving was a quarter of the route's CPU."""
    state: ServiceState = request.app.state.service
    await require_client_key(state.settings, x_api_key)
    return state, await get_index(state)


IndexDep = Annotated[ServingIndex, Depends(get_index)]
ClientKey = Depends(require_client_key)
StoreDep = Annotated[GraphStore, Depends(get_store)]
EventContext = Annotated[tuple[ServiceState, ServingIndex], Depends(event_context)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
