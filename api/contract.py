"""What every response of the API keeps to, whatever the request: the error shapes the OpenAPI document
declares, a request-body limit, ``Allow`` on 405, and error bodies that never echo large inputs nor reveal
files on the server.

- Errors are ``{"detail": "message"}``, except 422, which is always FastAPI's ``{"detail": [{"loc", "msg",
  "type"}]}``: a value the route refuses (an unknown filter value) has the same shape as one the schema refuses.
- A 422 quotes an input only when it is short (:data:`MAX_ECHO_CHARS`); a 20 MB body is not sent back.
- A request body over ``Settings.max_body_bytes`` is answered 413 before any route reads it.
- 503 messages (graph store busy or down, no bundle) say what is wrong without the server's paths.
- A 405 lists in ``Allow`` every method the path supports (Starlette lists only the first route's).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError
from kg.errors import StoreError

log = logging.getLogger("cartograph.api")

#: Inputs longer than this are not quoted back in a 422.
MAX_ECHO_CHARS = 100
#: Absolute POSIX or Windows paths in a message (kept: the last component, which names the kind of file).
_PATH = re.compile(r"(?:[A-Za-z]:\\|/)(?:[^\s'\"\\/:]+[\\/])+([^\s'\"\\/:]*)")


class ErrorMessage(BaseModel):
    detail: str


_DESCRIPTIONS = {
    400: "malformed request", 401: "missing or wrong X-API-Key", 404: "unknown user or product id",
    409: "conflicts with work in progress (a reload already running)",
    413: "request body larger than the limit (CARTOGRAPH_MAX_BODY_BYTES)",
    503: "not available now: no bundle loaded, graph store busy or down, or the endpoint is disabled",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error statuses it can answer, each as :class:`ErrorMessage`."""
    return {code: {"model": ErrorMessage, "description": _DESCRIPTIONS[code]} for code in codes}


def redact_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last component (``/srv/x/graph.lbug`` -> ``…/graph.lbug``)."""
    return _PATH.sub(lambda m: f"…/{m.group(1)}", text)


def _short(value: Any) -> bool:
    return isinstance(value, int | float | bool) or value is None or (isinstance(value, str)
                                                                      and len(value) <= MAX_ECHO_CHARS)


def validation_errors(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic errors as the 422 body: location, message and type; the input only when short."""
    out = []
    for err in errors:
        item = {"loc": [p if isinstance(p, int | str) else str(p) for p in err.get("loc", ())],
                "msg": redact_paths(str(err.get("msg", "invalid value")))[:300],
                "type": str(err.get("type", "value_error"))}
        if "input" in err and _short(err["input"]):
            item["input"] = err["input"]
        out.append(item)
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods some route answers on this path (a route fully matches the path with that method)."""
    return [method for method in _METHODS
            if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)]


def install_error_handlers(app: FastAPI) -> None:
    """The handlers that give every error the documented shape (see the module docstring)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        message = redact_paths(str(exc))
        if exc.status_code == 422:
            body = [{"loc": list(exc.location), "msg": message, "type": "invalid_request"}]
            return JSONResponse({"detail": body}, status_code=422)
        return JSONResponse({"detail": message}, status_code=exc.status_code)

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.warning("graph store error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "graph store unavailable (busy with a job, or down); try again"},
                            status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
        return JSONResponse({"detail": redact_paths(str(exc.detail))}, status_code=exc.status_code,
                            headers=headers)


class BodyLimitMiddleware:
    """Answers 413 to a request whose body is over ``max_bytes`` (``path_limits`` can give a path its own
    limit), by Content-Length or while it streams, before the route reads it; the body is buffered (bounded by
    the limit) and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app, self.default_max_bytes, self.path_limits = app, max_bytes, dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.default_max_bytes)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._too_large(scope, receive, send, max_bytes)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await self._too_large(scope, receive, send, max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = JSONResponse({"detail": f"request body over the limit of {max_bytes} bytes"},
                                status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
