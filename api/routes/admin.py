"""POST /admin/reload and GET /admin/reload, behind the ``X-API-Key`` header.

With no ``CARTOGRAPH_ADMIN_API_KEY`` configured the admin endpoints are disabled (503 saying so), never open.
The key is compared in constant time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from api.contract import error_responses
from api.deps import SettingsDep, StateDep, check_key
from api.errors import ConflictError, ServiceUnavailableError
from api.models import ReloadStatus

router = APIRouter(prefix="/admin", tags=["admin"])


async def require_api_key(settings: SettingsDep,
                          x_api_key: Annotated[str | None, Header(max_length=256)] = None) -> None:
    expected = settings.admin_api_key.get_secret_value() if settings.admin_api_key else ""
    if not expected:
        raise ServiceUnavailableError("admin endpoints are disabled: set CARTOGRAPH_ADMIN_API_KEY to enable them")
    check_key(expected, x_api_key)


AdminDep = Depends(require_api_key)


def _status(state: StateDep) -> ReloadStatus:
    s = state.reload_status
    return ReloadStatus(state=s["state"], target=s.get("target"), previous=s.get("previous"),
                        version=s.get("version"), error=s.get("error"), seconds=s.get("seconds"),
                        serving=state.index.version if state.index else None)


@router.post("/reload", response_model=ReloadStatus, status_code=202, dependencies=[AdminDep],
             responses={200: {"model": ReloadStatus, "description": "done (wait=true)"},
                        **error_responses(401, 409, 413, 503)})
def reload_bundle(state: StateDep, response: Response,
                  wait: Annotated[bool, Query(description="answer when the reload has finished")] = False,
                  ) -> ReloadStatus:
    """Load the newest bundle in the background and swap it in atomically: requests in flight finish on the
    old one, none fails. 409 while a reload is running."""
    try:
        state.start_reload()
    except RuntimeError as e:
        raise ConflictError(str(e)) from e
    if wait:
        state.wait_reload()
        response.status_code = 200
    return _status(state)


@router.get("/reload", response_model=ReloadStatus, dependencies=[AdminDep], responses=error_responses(401, 503))
async def reload_status(state: StateDep) -> ReloadStatus:
    """The last reload's state (idle, running, succeeded, failed) and the version serving now."""
    return _status(state)
