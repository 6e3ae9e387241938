"""Typed FastAPI dependencies. Tests override them with ``app.dependency_overrides[get_index] = ...``.

They are ``async def`` on purpose: they do no I/O, and a plain ``def`` dependency would cost every request a
trip through the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ServiceUnavailableError
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


IndexDep = Annotated[ServingIndex, Depends(get_index)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
