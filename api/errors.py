"""Errors of the serving layer, all under :class:`kg.errors.CartographError`, mapped to HTTP in ``api.main``.

Routes raise these with a message written for the API's caller; the exception handlers turn them into
``{"detail": message}`` with the status named here, so no route builds an error response by hand.
"""

from __future__ import annotations

from kg.errors import CartographError


class ApiError(CartographError):
    """An error with an HTTP status; the message is shown to the caller as ``detail``.

    ``location`` names the refused input as a 422 body's ``loc`` does (``("query", "brand")``).
    """

    status_code: int = 400

    def __init__(self, message: str, *, location: tuple[str, ...] = ("request",)) -> None:
        super().__init__(message)
        self.location = location


class NotFoundError(ApiError):
    """A path id (user, product) that the service does not know."""

    status_code = 404


class InvalidRequestError(ApiError):
    """A well-formed request whose values make no sense (unknown filter value, min_price > max_price)."""

    status_code = 422


class ServiceUnavailableError(ApiError):
    """The service cannot answer now (no bundle loaded, graph store down, admin endpoints disabled)."""

    status_code = 503


class UnauthorizedError(ApiError):
    """A missing or wrong API key."""

    status_code = 401


class PayloadTooLargeError(ApiError):
    """A request body over the configured limit."""

    status_code = 413


class ConflictError(ApiError):
    """The request clashes with work in progress (a reload already running)."""

    status_code = 409
