"""The LLM extractor against a real local HTTP server (a thread serving canned chat-completions replies)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kg.config import Settings
from kg.errors import ConfigError
from kg.extract.base import TextItem
from kg.extract.llm import LLMConfig, LLMExtractor, parse_reply
from kg.extract.schema import EntityType

Reply = Callable[[dict[str, Any]], tuple[int, str]]
"""request body -> (HTTP status, message content or raw body)."""


class FakeServer:
    """Chat-completions on 127.0.0.1: ``reply`` decides each answer; it records requests and concurrency."""

    def __init__(self, reply: Reply, delay_s: float = 0.0) -> None:
        self.reply, self.delay_s = reply, delay_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s)
                    status, content = server.reply(body)
                    payload = content if status != 200 else json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": content}}]})
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def products_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(body["messages"][1]["content"])["products"]


def echo_brand(body: dict[str, Any]) -> tuple[int, str]:
    """A well-behaved model: the first word of each title is a brand; plus one unknown type and one
    entity that is not in the text (both must be dropped)."""
    items = []
    for p in products_of(body):
        first = p["title"].split()[0]
        items.append({"i": p["i"], "entities": [
            {"type": "brand", "text": first},
            {"type": "PRODUCT TYPE", "text": "Ink Cartridge"} if "Ink Cartridge" in p["title"] else
            {"type": "color", "text": "Black"},
            {"type": "celebrity", "text": first},
            {"type": "material", "text": "unobtainium"},
        ]})
    return 200, json.dumps({"items": items})


ITEMS = [TextItem(f"p{i}", {"title": f"Brand{i} Black Ink Cartridge {i}"}) for i in range(10)]


def config(url: str, **kw: Any) -> LLMConfig:
    return LLMConfig(url=url, model="fake-7b", api_key="sekret", timeout_s=kw.pop("timeout_s", 5.0),
                     backoff_s=0.01, **kw)


@pytest.fixture
def served() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(reply: Reply, delay_s: float = 0.0) -> FakeServer:
        server = FakeServer(reply, delay_s).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def test_valid_replies_are_validated_batched_and_cached(served: Callable[..., FakeServer], tmp_path: Path) -> None:
    server = served(echo_brand)
    extractor = LLMExtractor(config(server.url, batch_size=4), cache_dir=tmp_path)
    results = extractor.extract_batch(ITEMS)
    assert extractor.model_calls == len(server.requests) == 3  # 10 products, 4 per request
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["auth"] == "Bearer sekret" and server.requests[0]["model"] == "fake-7b"
    for item, result in zip(ITEMS, results, strict=True):
        assert result.error is None
        got = {(m.type, m.text) for m in result.mentions}
        assert got == {(EntityType.BRAND, item.fields["title"].split()[0]), (EntityType.PRODUCT_TYPE, "Ink Cartridge")}
        assert result.notes == {"unknown entity type in LLM reply": 1, "LLM entity text not in the product text": 1}
        brand = next(m for m in result.mentions if m.type is EntityType.BRAND)
        assert item.fields["title"][brand.start:brand.end] == brand.text
    extractor.close()
    again = LLMExtractor(config(server.url, batch_size=4), cache_dir=tmp_path)
    cached = again.extract_batch(ITEMS)
    assert again.model_calls == 0 and len(server.requests) == 3
    assert [r.mentions for r in cached] == [
        [m.__class__(**{**m.__dict__, "extractor": again.name}) for m in r.mentions] for r in results]


def test_non_json_and_wrong_shapes_are_retried_then_reported_per_item(served: Callable[..., FakeServer]) -> None:
    replies = iter([(200, "Sure! Here are the entities: brand=HP"), (200, '{"entities": []}'),
                    (200, '```json\n{"items": [{"i": 0, "entities": [{"type": "brand", "text": "Brand0"}]}]}\n```')])
    server = served(lambda body: next(replies))
    extractor = LLMExtractor(config(server.url, max_retries=2))
    result = extractor.extract(ITEMS[0])
    assert len(server.requests) == 3 and result.error is None
    assert [(m.type, m.text) for m in result.mentions] == [(EntityType.BRAND, "Brand0")]

    always_bad = served(lambda body: (200, "I cannot help with that."))
    failing = LLMExtractor(config(always_bad.url, max_retries=1))
    results = failing.extract_batch(ITEMS[:3])
    assert len(always_bad.requests) == 2
    assert all(r.error and r.error.startswith("bad LLM reply: reply is not JSON") for r in results)
    assert all(r.mentions == [] for r in results)


def test_server_errors_are_retried_with_backoff_and_client_errors_are_not(served: Callable[..., FakeServer]) -> None:
    statuses = iter([503, 429, 200])
    flaky = served(lambda body: (s, "overloaded") if (s := next(statuses)) != 200 else echo_brand(body))
    extractor = LLMExtractor(config(flaky.url, max_retries=3))
    assert extractor.extract(ITEMS[0]).error is None and len(flaky.requests) == 3

    refusing = served(lambda body: (401, '{"error": "invalid api key"}'))
    result = LLMExtractor(config(refusing.url, max_retries=3)).extract(ITEMS[0])
    assert len(refusing.requests) == 1
    assert result.error is not None and "HTTP 401" in result.error and "invalid api key" in result.error


def test_timeouts_are_errors_of_the_item_not_of_the_run(served: Callable[..., FakeServer]) -> None:
    slow = served(echo_brand, delay_s=1.0)
    started = time.perf_counter()
    result = LLMExtractor(config(slow.url, timeout_s=0.2, max_retries=1)).extract(ITEMS[0])
    assert result.error is not None and "timed out" in result.error.lower()
    assert time.perf_counter() - started < 1.5


def test_requests_in_flight_never_exceed_the_concurrency_limit(served: Callable[..., FakeServer]) -> None:
    server = served(echo_brand, delay_s=0.15)
    extractor = LLMExtractor(config(server.url, batch_size=1, concurrency=3))
    results = extractor.extract_batch(ITEMS)
    assert all(r.error is None for r in results)
    assert len(server.requests) == 10 and server.max_in_flight == 3


def test_no_endpoint_configured_is_a_clear_config_error(tmp_path: Path) -> None:
    settings = Settings(store_backend="embedded", home=tmp_path, llm_url=None, llm_model=None)
    with pytest.raises(ConfigError, match="CARTOGRAPH_LLM_URL"):
        LLMConfig.from_settings(settings)


def test_parse_reply_is_strict() -> None:
    assert parse_reply('{"items": [{"i": 0, "entities": []}]}', 1) == {0: []}
    for bad in ('[]', '{"items": [{"i": "0", "entities": []}]}', '{"items": []}', 'text {"items": []}'):
        with pytest.raises(ValueError):
            parse_reply(bad, 1)
