"""Prometheus metrics of one API instance: requests, latency histograms, bundle version, events, reloads.

Each app gets its own :class:`prometheus_client.CollectorRegistry` (tests build several apps in one process).
Requests are labelled by route *template* (``/users/{user_id}/recommendations``), never by raw path, so ids do
not explode the label space; unmatched paths share the label ``<unmatched>``. The middleware is plain ASGI
(no ``BaseHTTPMiddleware``), because it runs on every request of the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Latency buckets in seconds: fine below 10 ms, where the targets are.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("cartograph_http_requests", "HTTP requests by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("cartograph_http_request_duration_seconds", "Request latency (server side)",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)
        self.bundle = Gauge("cartograph_bundle_info", "The bundle being served (value 1)",
                            ["version", "model"], registry=self.registry)
        self.bundle_products = Gauge("cartograph_bundle_products", "Products in the serving index",
                                     registry=self.registry)
        self.events = Counter("cartograph_events", "Feedback events accepted", ["type"], registry=self.registry)
        self.events_backlog = Gauge("cartograph_events_backlog", "Events in the event log not yet written into "
                                    "the graph", registry=self.registry)
        self.graph_busy = Counter("cartograph_graph_busy", "Graph-bound requests refused with 503 because every "
                                  "graph slot was taken", registry=self.registry)
        self.reloads = Counter("cartograph_reloads", "Bundle reloads", ["outcome"], registry=self.registry)
        self.recent_users = Gauge("cartograph_recent_users", "Users whose recent events the API holds in memory "
                                  "(at most CARTOGRAPH_RECENT_MAX_USERS)", registry=self.registry)
        self.store_up = Gauge("cartograph_store_up", "1 when the graph store answered the last check",
                              registry=self.registry)

    def set_bundle(self, version: str, model: str, products: int) -> None:
        self.bundle.clear()
        self.bundle.labels(version=version, model=model).set(1)
        self.bundle_products.set(products)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request (status 500 when the app raised)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
