"""The HTTP API end to end: a real bundle trained on the shipped sample, the real embedded graph, real MiniLM.

One module-scoped fixture ingests the sample into a fresh embedded store, gives some products a price,
deactivates one, trains the default GNN for two epochs, then adds a product the model never saw (so the
inductive path runs) and starts the app under TestClient. Text embeddings go through a cache under
``var/test-cache`` (content-hashed, so it is only ever a speed-up): a cold run encodes the 2,500 sample texts.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.event_writer import GraphWriter
from api.eventlog import EventLog, LoggedEvent
from api.main import create_app
from cartograph.cli import app as cli_app
from cartograph.commands.quickstart import train_quick
from gnn.bundle import Bundle, load_bundle
from gnn.versions import rollback
from kg.config import PROJECT_ROOT, Settings
from kg.ingest.run import run_ingest
from kg.store import open_store

API_KEY = "test-admin-key"
TEXT_CACHE = PROJECT_ROOT / "var" / "test-cache"
NEW_PRODUCT = "API-NEW-0001"
INACTIVE = "B004ZT0SSG"


@dataclass
class Served:
    client: TestClient
    settings: Settings
    bundle: Bundle
    retrain: Any  # () -> Path: train and publish another bundle


def _train(settings: Settings, epochs: int, store: Any = None, model: str = "gnn") -> Path:
    """The quick start's training step (the same function ``cartograph quickstart`` runs), for one model kind
    so that what is served (and so which strategy answers) does not depend on a validation choice."""
    return train_quick(settings, epochs, progress=False, store=store, model=model)


def _prepare_graph(settings: Settings) -> None:
    run_ingest(settings, settings.sample_dir, progress=False)
    with open_store(settings) as store:
        ids = [r["id"] for r in store.query("MATCH (p:Product) RETURN p.id AS id ORDER BY id LIMIT 400")]
        store.upsert_nodes("Product", [{"id": pid, "price": float(5 + i % 40)} for i, pid in enumerate(ids)])
        store.deactivate("Product", [INACTIVE])


def _add_new_product(settings: Settings) -> None:
    """A product added after training: known to the graph, not to the bundle."""
    with open_store(settings) as store:
        store.upsert_nodes("Product", [{"id": NEW_PRODUCT, "title": "zanzibar violet glitter nail lacquer",
                                        "active": True, "price": 12.5}])
        store.upsert_relationships("MADE_BY", [{"src": NEW_PRODUCT, "dst": "opi"}])
        store.upsert_relationships("IN_CATEGORY", [{"src": NEW_PRODUCT, "dst": c}
                                                   for c in ("beauty", "makeup", "nail-polish", "nails")])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("api") / "home"
    home.mkdir()
    TEXT_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    # No bundle watcher here: the reload test below publishes and reloads by hand (the watcher has its own).
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, admin_api_key=API_KEY,
                        bundle_watch_s=0)
    _prepare_graph(settings)
    _train(settings, epochs=2)
    _add_new_product(settings)
    with TestClient(create_app(settings)) as client:
        # Retraining reads the graph through the store the app holds (the embedded engine has one writer).
        store = client.app.state.service.store  # type: ignore[attr-defined]
        yield Served(client, settings, load_bundle(settings.artifacts_dir),
                     lambda: _train(settings, epochs=1, store=store))


@pytest.fixture(scope="module")
def client(served: Served) -> TestClient:
    return served.client


def _train_items(served: Served) -> dict[str, set[str]]:
    """User id -> product ids of their training interactions (the bundle's message-passing graph)."""
    graph = served.bundle.graph
    assert graph is not None
    users, products = graph["edges"]["user__interacts__product"].numpy()
    out: dict[str, set[str]] = {}
    for u, p in zip(users, products, strict=True):
        out.setdefault(served.bundle.id_maps["user"][u], set()).add(served.bundle.id_maps["product"][p])
    return out


def _a_user(served: Served, min_items: int = 4) -> str:
    """A user the bundle was trained with, with at least ``min_items`` training interactions."""
    return min(u for u, items in _train_items(served).items() if len(items) >= min_items)


# -- recommendations ------------------------------------------------------------------------------------
def test_recommendations_for_a_known_user_are_personalised_with_reasons(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    r = client.get(f"/users/{user}/recommendations", params={"k": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["strategy"] == "personalised"
    assert body["bundle_version"] == served.bundle.version
    items = body["items"]
    assert len(items) == 7 and [i["rank"] for i in items] == list(range(1, 8))
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert all(i["reason"] for i in items)
    # exclude_seen (the default): nothing the user interacted with comes back.
    seen = client.get(f"/users/{user}/explanations/{items[0]['product']['id']}").json()
    assert not any(p["kind"] == "direct" for p in seen["paths"])
    assert INACTIVE not in {i["product"]["id"] for i in items}


def test_exclude_seen_false_can_return_history(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    history = _train_items(served)[user]
    with_seen = client.get(f"/users/{user}/recommendations", params={"k": 100, "exclude_seen": False}).json()
    without = client.get(f"/users/{user}/recommendations", params={"k": 100}).json()
    assert history & {i["product"]["id"] for i in with_seen["items"]}  # trained on: they score high
    assert not history & {i["product"]["id"] for i in without["items"]}


@pytest.mark.parametrize("user", ["never-seen-user", "A0000000000000"])
def test_unknown_user_gets_popular_items_within_filters(client: TestClient, user: str) -> None:
    r = client.get(f"/users/{user}/recommendations", params={"k": 5, "brand": "NYX"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["strategy"] == "popular"
    assert {i["product"]["brand"] for i in body["items"]} == {"NYX"}
    counts = [i["score"] for i in body["items"]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert all(i["reason"].startswith("popular within brand=NYX") for i in body["items"])


def test_cold_start_from_items_given_in_the_request(client: TestClient) -> None:
    anchor = "B002S8TOYU"
    r = client.get("/users/brand-new/recommendations", params={"k": 5, "items": anchor})
    body = r.json()
    assert r.status_code == 200 and body["strategy"] == "pooled_items"
    assert anchor not in {i["product"]["id"] for i in body["items"]}
    similar = client.get(f"/products/{anchor}/similar", params={"k": 5}).json()
    # Pooling one item by cosine is "the items most similar to it".
    assert [i["product"]["id"] for i in body["items"]] == [i["product"]["id"] for i in similar["items"]]


def test_filters_brand_category_and_price(client: TestClient, served: Served) -> None:
    user = _a_user(served)
    r = client.get(f"/users/{user}/recommendations",
                   params={"k": 10, "category": "Nail Polish", "min_price": 10, "max_price": 20})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items, "the sample has priced nail polish"
    for item in items:
        assert "Nail Polish" in item["product"]["categories"]
        assert 10 <= item["product"]["price"] <= 20
    by_name = client.get(f"/users/{user}/recommendations", params={"brand": "maybelline"}).json()
    assert {i["product"]["brand"] for i in by_name["items"]} == {"Maybelline"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"k": 0}, "greater than or equal to 1"),
        ({"k": -3}, "greater than or equal to 1"),
        ({"k": 100_000}, "less than or equal to 100"),
        ({"k": "ten"}, "valid integer"),
        ({"min_price": -1}, "greater than or equal to 0"),
        ({"max_price": "nan"}, "finite number"),
        ({"items": "' OR 1=1 --"}, "should match pattern"),
    ],
)
def test_bad_recommendation_parameters_are_4xx_with_a_message(client: TestClient, params: dict[str, Any],
                                                              fragment: str) -> None:
    r = client.get("/users/some-user/recommendations", params=params)
    assert r.status_code == 422, r.text
    assert fragment in r.text


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"brand": "no-such-brand-xyz"}, "unknown brand"), ({"category": "Nope Category"}, "unknown category"),
     ({"items": "not-a-product"}, "unknown product")],
)
def test_unknown_filter_values_are_404_with_a_message(client: TestClient, params: dict[str, Any],
                                                       fragment: str) -> None:
    r = client.get("/users/some-user/recommendations", params=params)
    assert r.status_code == 404, r.text
    assert fragment in r.json()["detail"]


def test_an_empty_price_range_or_empty_filter_matches_nothing_or_everything(client: TestClient) -> None:
    empty = client.get("/users/some-user/recommendations", params={"min_price": 30, "max_price": 10})
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert "empty range" in empty.json()["filters"]
    unfiltered = client.get("/users/some-user/recommendations", params={"brand": "", "category": "", "k": 3})
    assert unfiltered.status_code == 200 and len(unfiltered.json()["items"]) == 3


def test_injection_like_user_id_is_refused(client: TestClient) -> None:
    r = client.get("/users/x' OR '1'='1/recommendations")
    assert r.status_code == 422
    assert "should match pattern" in r.text


# -- the error contract --------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413_without_reading_it(served: Served, client: TestClient) -> None:
    limit = served.settings.max_body_bytes
    big = {"user_id": "u", "product_id": "B002S8TOYU", "type": "view", "pad": "x" * (limit + 1)}
    r = client.post("/events", json=big)
    assert r.status_code == 413 and str(limit) in r.json()["detail"] and len(r.content) < 200

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"user_id": "u", "product_id": "B002S8TOYU", "type": "view", "pad": "'
        for _ in range(limit // 1000 + 1):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_a_422_does_not_echo_a_large_input(client: TestClient) -> None:
    r = client.post("/events", json={"user_id": "u" * 30_000, "product_id": "B002S8TOYU", "type": "view"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)
    assert len(r.content) < 1000 and "uuuuuuuuuu" not in r.text
    r = client.post("/events", content=b"{" * 5000, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and len(r.content) < 1000


@pytest.mark.parametrize("ts", [False, True, "5", 5.5, None, -1, 5.0])
def test_event_fields_are_strictly_typed(client: TestClient, ts: Any) -> None:
    """JSON types as the schema declares them: 5.0 is an integer in JSON Schema, false and "5" are not."""
    body = {"user_id": "strict-user", "product_id": "B002S8TOYU", "type": "view", "ts": ts}
    assert client.post("/events", json=body).status_code == (202 if ts is None or ts == 5.0 else 422)


def test_route_errors_have_the_schema_shape(client: TestClient) -> None:
    """A value a route refuses is answered like one the schema refuses: ``detail`` is a list with loc and msg."""
    r = client.get("/search", params={"q": "MATCH (n) RETURN n"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "q"]
    assert client.get("/products/NOPE-404").json() == {"detail": "unknown product 'NOPE-404'"}


def test_lookalike_and_full_width_ids_are_refused(client: TestClient) -> None:
    assert client.get("/users/Admin/recommendations").status_code == 200
    for lookalike in ("\u0410dmin", "\uff21dmin", "Admi\u0274"):  # Cyrillic A, full-width A, small capital N
        r = client.get(f"/users/{lookalike}/recommendations")
        assert r.status_code == 422, lookalike
        body = {"user_id": lookalike, "product_id": "B002S8TOYU", "type": "view"}
        assert client.post("/events", json=body).status_code == 422


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.delete("/admin/reload")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert client.put("/users/u").headers["allow"] == "DELETE"


@contextmanager
def client_key(served: Served, key: str) -> Iterator[None]:
    """The running app with ``CARTOGRAPH_API_KEY`` set (the routes read the settings per request)."""
    state = served.client.app.state.service  # type: ignore[attr-defined]
    before = state.settings
    state.settings = before.model_copy(update={"api_key": SecretStr(key)})
    try:
        yield
    finally:
        state.settings = before


def test_client_key_guards_writes_and_per_user_reads_when_configured(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    guarded = [("GET", f"/users/{user}/recommendations", None), ("GET", f"/users/{user}/explanations/B002S8TOYU",
                                                                 None),
               ("GET", f"/search?q=mascara&user_id={user}", None),
               ("POST", "/events", {"user_id": "key-user", "product_id": "B002S8TOYU", "type": "view"})]
    with client_key(served, "client-secret"):
        for method, url, body in guarded:
            assert client.request(method, url, json=body).status_code == 401, url
            wrong = client.request(method, url, json=body, headers={"X-API-Key": "nope"})
            assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong API key"
            assert client.request(method, url, json=body, headers={"X-API-Key": "client-secret"}).status_code < 300
        assert client.get("/search", params={"q": "mascara"}).status_code == 200  # not personal: open
        assert client.get("/products/B002S8TOYU/similar").status_code == 200
    assert client.get(f"/users/{user}/recommendations").status_code == 200  # no key configured: open


# -- events -----------------------------------------------------------------------------------------------
def test_events_are_stored_and_change_the_next_recommendations(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    before = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()
    target = "B002S8TOYU"
    for kind in ("view", "cart", "purchase"):
        r = client.post("/events", json={"user_id": user, "product_id": target, "type": kind})
        assert r.status_code == 202 and r.json()["queued"], r.text
    assert r.json()["stored_as"] == "PURCHASED" and r.json()["recent_items"] == 3
    after = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()  # at once, from memory
    assert after["strategy"] == "personalised+recent"
    assert [i["product"]["id"] for i in after["items"]] != [i["product"]["id"] for i in before["items"]]
    assert target not in {i["product"]["id"] for i in after["items"]}  # now seen
    # The background writer puts the event into the graph: the explanation finds the direct path.
    assert _writer(served).flush(timeout=30)
    explanation = client.get(f"/users/{user}/explanations/{target}").json()
    assert any(p["kind"] == "direct" and p["relationships"][0]["type"] == "PURCHASED" for p in explanation["paths"])


def _writer(served: Served) -> GraphWriter:
    writer = served.client.app.state.service.writer  # type: ignore[attr-defined]
    assert isinstance(writer, GraphWriter)
    return writer


def test_cart_is_stored_as_viewed_and_a_new_user_is_created(served: Served, client: TestClient) -> None:
    r = client.post("/events", json={"user_id": "carter-1", "product_id": "B003H8180I", "type": "cart"})
    assert r.status_code == 202 and r.json()["stored_as"] == "VIEWED"
    rec = client.get("/users/carter-1/recommendations", params={"k": 3}).json()
    assert rec["strategy"] == "pooled_items"
    assert "added to your cart" in rec["items"][0]["reason"]
    assert _writer(served).flush(timeout=30)
    explanation = client.get("/users/carter-1/explanations/B003H8180I").json()
    assert explanation["paths"][0]["relationships"][0]["type"] == "VIEWED"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "u", "product_id": "B002S8TOYU", "type": "wishlist"}, 422),
        ({"user_id": "u", "product_id": "B002S8TOYU"}, 422),
        ({"user_id": "u", "product_id": "B002S8TOYU", "type": "view", "extra": 1}, 422),
        ({"user_id": "u u", "product_id": "B002S8TOYU", "type": "view"}, 422),
        ({"user_id": "u", "product_id": "B002S8TOYU", "type": "view", "ts": -5}, 422),
        ({"user_id": "u", "product_id": "NOPE-404", "type": "view"}, 404),
    ],
)
def test_bad_events_are_refused(client: TestClient, body: dict[str, Any], status: int) -> None:
    assert client.post("/events", json=body).status_code == status


def _logged(served: Served) -> list[LoggedEvent]:
    """Every event in the API's event log files, read from the files."""
    log = served.client.app.state.service.events  # type: ignore[attr-defined]
    return [LoggedEvent.parse(line) for path in log.segment_files() for line in path.read_bytes().splitlines(True)]


def test_a_batch_records_its_valid_events_and_answers_each_invalid_one(served: Served, client: TestClient) -> None:
    good = "B002S8TOYU"
    events: list[Any] = [
        {"user_id": "batch-1", "product_id": good, "type": "view", "ts": 50},
        {"user_id": "batch-1", "product_id": "NOPE-404", "type": "view"},
        {"user_id": "batch 2", "product_id": good, "type": "wishlist"},
        {"user_id": "batch-2", "product_id": good, "type": "purchase", "ts": 60},
        "not an event",
        {"user_id": "batch-3", "product_id": good, "type": "cart", "extra": 1},
        {"user_id": "batch-3", "product_id": good, "type": "cart", "ts": 70},
    ]
    r = client.post("/events/batch", json={"events": events})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 4)
    results = body["results"]
    assert [x["index"] for x in results] == list(range(7))
    assert [x["status"] for x in results] == [202, 404, 422, 202, 422, 422, 202]
    assert [x.get("stored_as") for x in results if x["status"] == 202] == ["VIEWED", "PURCHASED", "VIEWED"]
    assert results[1]["detail"] == "unknown product 'NOPE-404'"
    assert {tuple(d["loc"]) for d in results[2]["detail"]} == {("body", "events", 2, "user_id"),
                                                              ("body", "events", 2, "type")}
    assert results[4]["detail"][0]["loc"] == ["body", "events", 4]
    assert results[5]["detail"][0]["loc"] == ["body", "events", 5, "extra"]
    # acknowledged == on disk: the three valid events are in the log files when the answer comes, nothing else
    on_disk = [(e.user_id, e.product_id, e.type, e.ts) for e in _logged(served) if e.user_id.startswith("batch")]
    assert on_disk == [("batch-1", good, "view", 50), ("batch-2", good, "purchase", 60), ("batch-3", good, "cart", 70)]
    seqs = [e.seq for e in _logged(served) if e.user_id.startswith("batch")]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # one submission: consecutive ids, one fsync
    # pooled at once, and written to the graph by the background writer
    assert client.get("/users/batch-2/recommendations", params={"k": 3}).json()["strategy"] == "pooled_items"
    assert _writer(served).flush(timeout=30)
    assert _user_edges(served, "batch-2") == [{"rel": "PURCHASED", "p": good, "ts": 60}]
    assert _user_edges(served, "batch-3") == [{"rel": "VIEWED", "p": good, "ts": 70}]


@pytest.mark.parametrize("body", [{"events": []}, {}, [], {"events": {"user_id": "u"}},
                                  {"events": [{"user_id": "u", "product_id": "B002S8TOYU", "type": "view"}], "x": 1}])
def test_a_malformed_batch_is_refused_whole(client: TestClient, body: Any) -> None:
    r = client.post("/events/batch", json=body)
    assert r.status_code == 422 and isinstance(r.json()["detail"], list), r.text


def test_a_batch_over_the_limits_is_refused_413_and_records_nothing(served: Served, client: TestClient) -> None:
    state = served.client.app.state.service  # type: ignore[attr-defined]
    before = state.events.durable_seq
    event = {"user_id": "too-many", "product_id": "B002S8TOYU", "type": "view"}
    r = client.post("/events/batch", json={"events": [event] * (state.settings.event_batch_max + 1)})
    assert r.status_code == 413 and "over the limit of 1000" in r.json()["detail"]
    big = {"user_id": "x" * 128, "product_id": "B002S8TOYU", "type": "view"}  # about 190 bytes
    r = client.post("/events/batch", json={"events": [big] * 6000})  # over 1 MiB
    assert r.status_code == 413 and "request body over the limit of 1048576 bytes" in r.json()["detail"]
    assert state.events.durable_seq == before
    assert client.post("/events/batch", json={"events": [event] * 1000}).json()["accepted"] == 1000  # at the limit
    # POST /events keeps its own, smaller body limit
    assert client.post("/events", json={**event, "user_id": "y" * 70_000}).status_code == 413


def test_a_batch_needs_the_client_key_when_one_is_configured(served: Served, client: TestClient) -> None:
    body = {"events": [{"user_id": "key-batch", "product_id": "B002S8TOYU", "type": "view"}]}
    with client_key(served, "client-secret"):
        assert client.post("/events/batch", json=body).status_code == 401
        assert client.post("/events/batch", json=body, headers={"X-API-Key": "client-secret"}).status_code == 202


# -- search -----------------------------------------------------------------------------------------------
def test_search_links_entities_and_says_what_matched(client: TestClient) -> None:
    r = client.get("/search", params={"q": "maybelline eyeliner", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    linked = {(m["type"], m["name"]) for m in body["linked"]}
    assert ("brand", "Maybelline") in linked and ("category", "Eyeliner") in linked
    assert set(body["retrieval"]) == {"bm25", "dense", "graph"}
    top = body["items"][0]
    assert top["product"]["brand"] == "Maybelline" and "Eyeliner" in top["product"]["categories"]
    assert "brand=Maybelline" in top["matched"] and "category=Eyeliner" in top["matched"]
    assert not body["personalised"]


def test_search_dense_retrieval_finds_paraphrases(client: TestClient) -> None:
    """No title says "lipstick colour": the dense list still finds lip products."""
    body = client.get("/search", params={"q": "lip colour", "k": 10}).json()
    assert any("semantic similarity" in " ".join(i["matched"]) for i in body["items"])
    assert any("Lips" in i["product"]["categories"] for i in body["items"][:5])


def test_search_personalised_for_a_user(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    plain = client.get("/search", params={"q": "nail polish", "k": 20}).json()
    personal = client.get("/search", params={"q": "nail polish", "k": 20, "user_id": user}).json()
    assert personal["personalised"] and not plain["personalised"]
    assert all("ranked for you" in i["matched"] for i in personal["items"])
    assert [i["product"]["id"] for i in personal["items"]] != [i["product"]["id"] for i in plain["items"]]


def test_search_filters_and_finds_the_product_added_after_training(client: TestClient) -> None:
    body = client.get("/search", params={"q": "zanzibar violet glitter", "k": 3, "brand": "OPI"}).json()
    assert body["items"][0]["product"]["id"] == NEW_PRODUCT
    assert all(i["product"]["brand"] == "OPI" for i in body["items"])


def test_search_says_how_it_understood_the_query(client: TestClient) -> None:
    body = client.get("/search", params={"q": "maybeline eyeliners", "k": 5}).json()
    u = body["understood"]
    assert u["corrections"] == [{"original": "maybeline", "corrected": "maybelline"}]
    assert u["corrected"] == "maybelline eyeliners"
    assert u["brand"] == ["Maybelline"] and u["product_type"] == ["eyeliner"]
    assert {(c["kind"], c["how"]) for c in body["constraints"]} == {("brand", "rank"), ("product_type", "rank")}
    assert all(i["product"]["brand"] == "Maybelline" for i in body["items"][:3])
    assert len(body["query_id"]) == 32 and body["ranker"] == "weights" and body["suggestions"] == []
    assert body["no_match"] == ""


def test_personalised_search_keeps_the_typed_brand_and_type_first(served: Served, client: TestClient) -> None:
    for user in sorted(_train_items(served))[:5]:
        body = client.get("/search", params={"q": "maybelline eyeliner", "k": 10, "user_id": user}).json()
        kept = [("brand=Maybelline" in i["matched"]) + ("product_type=eyeliner" in i["matched"])
                for i in body["items"]]
        assert body["personalised"] and kept[0] == 2 and kept == sorted(kept, reverse=True), (user, kept)


def test_search_price_phrase_filters_where_prices_exist(client: TestClient) -> None:
    body = client.get("/search", params={"q": "nail polish under $20", "k": 10}).json()
    assert {"kind": "price", "value": "<= 20", "text": "under $20", "how": "filter"}.items() <= \
        next(c for c in body["constraints"] if c["kind"] == "price").items()
    assert body["understood"]["price"] == {"min": None, "max": 20.0, "phrase": "under $20"}
    assert all(i["product"]["price"] is not None and i["product"]["price"] <= 20 for i in body["items"])


def test_search_in_another_script_is_searched_not_refused(client: TestClient) -> None:
    r = client.get("/search", params={"q": "ลิปสติก"})  # Thai: no dictionary installed reads it
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["items"] == [] and body["suggestions"]  # the sample has no Thai text: no filler either
    assert body["no_match"] == "the catalog uses none of the query's words"


def test_a_chinese_query_is_read_through_cc_cedict(client: TestClient) -> None:
    body = client.get("/search", params={"q": "口红", "k": 5}).json()
    translation = {"original": "口红", "english": "lipstick", "dictionary": "cc-cedict"}
    assert body["understood"]["translations"] == [translation]
    assert body["items"] and all("lipstick" in hit["product"]["title"].lower() for hit in body["items"])


def test_a_click_on_a_search_hit_is_logged_for_ranker_training(served: Served, client: TestClient) -> None:
    from api.feedback import FEEDBACK_FILE, feedback_labels

    body = client.get("/search", params={"q": "waterproof mascara", "k": 5}).json()
    hit = body["items"][1]["product"]["id"]
    r = client.post("/events", json={"user_id": "clicker-1", "product_id": hit, "type": "view",
                                     "query_id": body["query_id"], "position": 2})
    assert r.status_code in (201, 202), r.text
    labels = feedback_labels(served.settings.home / FEEDBACK_FILE)
    assert ("waterproof mascara", hit, 1) in labels
    assert ("waterproof mascara", body["items"][0]["product"]["id"], 0) in labels  # shown above, skipped
    bad = client.post("/events", json={"user_id": "u", "product_id": hit, "type": "view", "query_id": "x"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("", "at least 1 character"),
        ("x" * 201, "at most 200 characters"),
        ("   ", "should match pattern"),
        ("!!! ???", "should match pattern"),  # the schema's rule: a letter or digit of any script
        ("¿? — …", "should match pattern"),
        ("MATCH (n) DETACH DELETE n", "looks like a database statement"),
        ("' OR 'a'='a", "looks like a database statement"),
        ("lipstick; DROP TABLE products", "looks like a database statement"),
        ("red\x00polish", "should match pattern"),
    ],
)
def test_bad_search_queries_are_422_with_a_message(client: TestClient, q: str, fragment: str) -> None:
    r = client.get("/search", params={"q": q})
    assert r.status_code == 422, r.text
    assert fragment in r.text


def test_search_without_query_is_422(client: TestClient) -> None:
    assert client.get("/search").status_code == 422


# -- similar, products -------------------------------------------------------------------------------------
def test_similar_products_with_co_purchase_links(client: TestClient) -> None:
    r = client.get("/products/B002S8TOYU/similar", params={"k": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["product"]["id"] == "B002S8TOYU"
    assert len(body["items"]) == 10 and "B002S8TOYU" not in {i["product"]["id"] for i in body["items"]}
    assert body["co_purchase"] and all(link in {"ALSO_BOUGHT", "ALSO_VIEWED", "BOUGHT_TOGETHER"}
                                       for p in body["co_purchase"] for link in p["links"])
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] <= 1.0 + 1e-5


def test_product_added_after_training_has_an_inductive_embedding(client: TestClient) -> None:
    ready = client.get("/ready").json()
    assert ready["bundle"]["inductive_products"] == 1
    r = client.get(f"/products/{NEW_PRODUCT}/similar", params={"k": 5})
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    assert client.get(f"/products/{NEW_PRODUCT}").json()["price"] == 12.5


@pytest.mark.parametrize("path", ["/products/NOPE-404/similar", "/products/NOPE-404",
                                  "/users/A3G6XNM240RMWA/explanations/NOPE-404",
                                  "/users/nobody-at-all/explanations/B002S8TOYU"])
def test_unknown_ids_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "unknown" in r.json()["detail"]


# -- explanations -----------------------------------------------------------------------------------------
def test_explanation_paths_have_nodes_relationships_and_cypher(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    product = client.get(f"/users/{user}/recommendations", params={"k": 1}).json()["items"][0]["product"]["id"]
    r = client.get(f"/users/{user}/explanations/{product}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["paths"], "a recommended product shares at least a category with the user's items"
    assert [p["score"] for p in body["paths"]] == sorted((p["score"] for p in body["paths"]), reverse=True)
    for path in body["paths"]:
        keys = {n["key"] for n in path["nodes"]}
        assert path["nodes"][0]["key"] == f"User:{user}" and f"Product:{product}" in keys
        assert 1 <= len(path["relationships"]) <= 3
        assert all(rel["source"] in keys and rel["target"] in keys for rel in path["relationships"])
        text = path["cypher"]["text"]
        assert "$user_id" in text and "$product_id" in text and user not in text  # values are parameters
    assert {q["name"] for q in body["queries"]} == {"explain/direct", "explain/links", "explain/attributes",
                                                    "explain/collaborative"}


def test_each_path_cypher_runs_and_returns_the_path(served: Served, client: TestClient) -> None:
    user = _a_user(served)
    product = client.get(f"/users/{user}/recommendations", params={"k": 1}).json()["items"][0]["product"]["id"]
    body = client.get(f"/users/{user}/explanations/{product}").json()
    store = served.client.app.state.service.store  # type: ignore[attr-defined]
    for path in body["paths"]:
        rows = store.query(path["cypher"]["text"], path["cypher"]["params"])
        assert rows, path["cypher"]


def test_collaborative_explanations_count_other_shoppers_and_never_name_them(served: Served,
                                                                            client: TestClient) -> None:
    via, target = "B002S8TOYU", "B003H8180I"
    for user, product in (("privacy-me", via), ("privacy-other-1", via), ("privacy-other-1", target),
                          ("privacy-other-2", via), ("privacy-other-2", target)):
        r = client.post("/events", json={"user_id": user, "product_id": product, "type": "purchase", "ts": 100})
        assert r.status_code == 202, r.text
    assert served.client.app.state.service.writer.flush(timeout=30)  # type: ignore[attr-defined]
    r = client.get(f"/users/privacy-me/explanations/{target}", params={"limit": 20})
    assert r.status_code == 200, r.text
    assert "privacy-other" not in r.text
    collaborative = [p for p in r.json()["paths"] if p["kind"] == "collaborative"
                     and p["cypher"]["params"]["via_id"] == via]
    assert collaborative, r.json()["paths"]
    group = [n for n in collaborative[0]["nodes"] if n["label"] == "Shoppers"]
    count = group[0]["count"]  # the two above, and any earlier test's or the sample's shoppers of both
    assert count >= 2 and group == [{"key": "Shoppers", "label": "Shoppers", "id": None, "name": f"{count} shoppers",
                                     "count": count}]
    assert collaborative[0]["summary"].startswith(f"bought by {count} shoppers who also bought")
    assert all(n["id"] is None or n["label"] != "User" or n["id"] == "privacy-me" for n in collaborative[0]["nodes"])
    store = served.client.app.state.service.store  # type: ignore[attr-defined]
    rows = store.query(collaborative[0]["cypher"]["text"], collaborative[0]["cypher"]["params"])
    assert rows == [{"via_id": via, "product_id": target, "shoppers": count}]


def _bundle_users_with_history(served: Served, n: int) -> list[str]:
    items = _train_items(served)
    return sorted(u for u in items if len(items[u]) >= 4)[-n:]


def test_delete_user_erases_them_from_the_graph_and_what_is_served(served: Served, client: TestClient) -> None:
    user = _bundle_users_with_history(served, 1)[0]
    client.post("/events", json={"user_id": user, "product_id": "B002S8TOYU", "type": "view"})
    assert client.get(f"/users/{user}/recommendations").json()["strategy"] != "popular"
    assert client.delete(f"/users/{user}").status_code == 401
    r = client.delete(f"/users/{user}", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200, r.text
    assert r.json()["graph_users"] == 1 and r.json()["graph_edges"] > 0 and r.json()["newly_forgotten"]
    assert _user_edges(served, user) == []
    assert client.get(f"/users/{user}/recommendations").json()["strategy"] == "popular"
    assert client.get(f"/users/{user}/explanations/B002S8TOYU").status_code == 404
    again = client.delete(f"/users/{user}", headers={"X-API-Key": API_KEY}).json()
    assert not again["newly_forgotten"] and again["graph_users"] == 0


def test_a_user_forgotten_by_the_command_is_hidden_at_the_next_tick(served: Served, client: TestClient) -> None:
    """``cartograph forget-user`` runs in another process: the registry tells the running API."""
    from api.privacy import forget_user

    user = _bundle_users_with_history(served, 2)[0]
    assert client.get(f"/users/{user}/recommendations").json()["strategy"] != "popular"
    state = served.client.app.state.service  # type: ignore[attr-defined]
    forget_user(served.settings, state.store, user)
    assert state.apply_forgotten() == [user]  # what the watcher does every CARTOGRAPH_BUNDLE_WATCH_S
    assert client.get(f"/users/{user}/recommendations").json()["strategy"] == "popular"
    assert state.apply_forgotten() == []  # nothing new


# -- operations -------------------------------------------------------------------------------------------
def test_health_ready_metrics(served: Served, client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] and not ready["degraded"] and ready["store"]["reachable"]
    client.get("/users/whoever/recommendations")
    text = client.get("/metrics").text
    assert 'cartograph_http_requests_total{method="GET",route="/users/{user_id}/recommendations",status="200"}' \
        in text
    assert 'cartograph_http_request_duration_seconds_bucket{le="0.005",method="GET",' \
           'route="/users/{user_id}/recommendations"}' in text
    version = client.get("/ready").json()["bundle"]["bundle_version"]
    assert f'cartograph_bundle_info{{model="gnn",version="{version}"}} 1.0' in text
    assert "cartograph_events_total" in text
    users = next(line for line in text.splitlines() if line.startswith("cartograph_recent_users "))
    assert float(users.split()[1]) == len(client.app.state.service.recent)  # type: ignore[attr-defined]


def test_admin_reload_needs_the_key(client: TestClient) -> None:
    assert client.post("/admin/reload").status_code == 401
    r = client.post("/admin/reload", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "wrong API key" in r.text
    assert client.get("/admin/reload").status_code == 401


def test_reload_under_concurrent_requests_never_fails(served: Served, client: TestClient) -> None:
    old = client.get("/ready").json()["bundle"]["bundle_version"]
    new_path = served.retrain()
    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()
    user = _a_user(served)

    def hammer() -> None:
        while not stop.is_set():
            r = client.get(f"/users/{user}/recommendations", params={"k": 5})
            statuses.append(r.status_code)
            if r.status_code == 200:
                versions.append(r.json()["bundle_version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        r = client.post("/admin/reload", headers={"X-API-Key": API_KEY})
        assert r.status_code == 202 and r.json()["target"] == new_path.name
        deadline = time.monotonic() + 120
        while client.get("/admin/reload", headers={"X-API-Key": API_KEY}).json()["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.3)  # a few requests on the new bundle
    finally:
        stop.set()
        for t in threads:
            t.join()
    status = client.get("/admin/reload", headers={"X-API-Key": API_KEY}).json()
    assert status["state"] == "succeeded" and status["serving"] == new_path.name
    assert statuses and set(statuses) == {200}
    assert versions[0] == old and versions[-1] == new_path.name
    assert "cartograph_reloads_total{outcome=\"succeeded\"} 1.0" in client.get("/metrics").text


def test_admin_disabled_without_a_key_and_unready_without_a_bundle(served: Served, tmp_path: Path) -> None:
    settings = Settings(store_backend="embedded", home=tmp_path / "empty", neo4j_uri=None)
    encoder = served.client.app.state.service.encoder  # type: ignore[attr-defined]  (share the loaded model)
    with TestClient(create_app(settings, encoder=encoder)) as c:
        r = c.post("/admin/reload", headers={"X-API-Key": "anything"})
        assert r.status_code == 503 and "disabled" in r.json()["detail"]
        ready = c.get("/ready")
        assert ready.status_code == 503 and not ready.json()["ready"]
        assert "no bundle" in ready.json()["detail"]
        assert str(tmp_path) not in ready.text  # no path of the server's in an answer
        r = c.get("/users/u/recommendations")
        assert r.status_code == 503 and "no bundle" in r.json()["detail"] and str(tmp_path) not in r.text
        assert c.get("/health").status_code == 200


@contextmanager
def graph_held_by_another_process(settings: Settings) -> Iterator[None]:
    """A child process that opens the embedded graph for writing and keeps it, as a rebuild job does (the API
    lets go of the file when the job asks for it)."""
    code = ("import sys; from pathlib import Path; from kg.config import Settings; from kg.store import open_store; "
            "store = open_store(Settings(store_backend='embedded', home=Path(sys.argv[1]), neo4j_uri=None)); "
            "store.ping(); print('holding', flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code, str(settings.home)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        yield
    finally:
        child.communicate(timeout=60)  # closing stdin lets it go


def test_while_a_job_holds_the_graph_events_wait_in_the_log_then_are_written(served: Served,
                                                                            client: TestClient) -> None:
    user = "spool-user-1"
    popular = client.get("/users/nobody/recommendations", params={"k": 2}).json()["items"]
    products = [item["product"]["id"] for item in popular]
    writer, events = _writer(served), served.client.app.state.service.events  # type: ignore[attr-defined]
    with graph_held_by_another_process(served.settings):
        for product, kind, ts in ((products[0], "purchase", 10), (products[1], "view", 20)):
            r = client.post("/events", json={"user_id": user, "product_id": product, "type": kind, "ts": ts})
            assert r.status_code == 202 and r.json()["queued"], r.text
        assert r.json()["recent_items"] == 2  # they count for recommendations at once all the same
        ready = client.get("/ready").json()
        assert ready["ready"] and ready["degraded"] and not ready["store"]["reachable"]
        explained = client.get(f"/users/{user}/explanations/{products[1]}")
        assert explained.status_code == 503 and "graph store unavailable" in explained.json()["detail"]
        assert str(served.settings.home) not in explained.text and "graph.lbug" not in explained.text
        assert client.get(f"/users/{user}/recommendations").status_code == 200  # served from memory
        deadline = time.monotonic() + 30
        while writer.last_error is None:  # the writer gathers for a while, then tries and is refused
            assert time.monotonic() < deadline, "the writer did not try to write the logged events"
            time.sleep(0.05)
        assert not writer.flush(timeout=1.0)  # it cannot write them while the job holds the graph
        assert events.backlog >= 2
    assert writer.flush(timeout=30), "the writer did not write the logged events once the graph was free"
    assert events.backlog == 0
    assert _user_edges(served, user) == [{"rel": "PURCHASED", "p": products[0], "ts": 10},
                                         {"rel": "VIEWED", "p": products[1], "ts": 20}]


def _user_edges(served: Served, user: str) -> list[dict[str, Any]]:
    store = served.client.app.state.service.store  # type: ignore[attr-defined]
    return store.query("MATCH (u:User {id: $u})-[r]->(p:Product) RETURN label(r) AS rel, p.id AS p, r.ts AS ts "
                       "ORDER BY ts", {"u": user})


def test_events_logged_by_an_earlier_run_are_written_at_startup(served: Served, client: TestClient,
                                                                tmp_path: Path) -> None:
    product = client.get("/users/nobody/recommendations", params={"k": 1}).json()["items"][0]["product"]["id"]
    settings = served.settings.model_copy(update={"event_log_dir": tmp_path / "events"})  # its own log
    log = EventLog(settings.event_log_dir).open()
    log.append("restarted-user", product, "purchase", 30)  # as a stopped API leaves it: logged, not written
    log.close()
    legacy = served.settings.home / "events" / "pending.jsonl"  # the spool file of the API before the log
    legacy.write_text(f'{{"user_id": "spooled-user", "product_id": "{product}", "type": "view", "ts": 31}}\n')
    encoder = served.client.app.state.service.encoder  # type: ignore[attr-defined]  (share the loaded model)
    with TestClient(create_app(settings, encoder=encoder)) as restarted:
        assert restarted.app.state.service.writer.flush(timeout=30)  # type: ignore[attr-defined]
        assert not legacy.exists()
    assert _user_edges(served, "restarted-user") == [{"rel": "PURCHASED", "p": product, "ts": 30}]
    assert _user_edges(served, "spooled-user") == [{"rel": "VIEWED", "p": product, "ts": 31}]


def test_explanations_beyond_the_graph_slots_get_503_with_retry_after(served: Served, client: TestClient) -> None:
    slots = served.client.app.state.service.graph_slots  # type: ignore[attr-defined]
    user = _a_user(served)
    taken = 0
    while slots.acquire(blocking=False):  # as many explanations in flight as allowed
        taken += 1
    try:
        r = client.get(f"/users/{user}/explanations/B002S8TOYU")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
        assert client.post("/events", json={"user_id": user, "product_id": "B002S8TOYU", "type": "view"}
                           ).status_code == 202  # events do not wait for the graph
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == served.settings.graph_concurrency
    assert client.get(f"/users/{user}/explanations/B002S8TOYU").status_code == 200
    busy = [line for line in client.get("/metrics").text.splitlines() if line.startswith("cartograph_graph_busy_total")]
    assert busy and float(busy[0].split()[-1]) >= 1


KILLED_API = r"""
import sys, uvicorn
import api.main
from api.main import create_app
from kg.config import Settings
api.main._load_encoder = lambda settings: None  # no text model: events do not need one, and it starts faster
settings = Settings(store_backend="embedded", home=sys.argv[1], neo4j_uri=None, bundle_watch_s=0,
                    event_log_dir=sys.argv[2], event_writer_linger_s=0.2)
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def _post_events_until_refused(port: int, worker: int, product: str, acked: list[str]) -> None:
    """Post events (one new user each) on one keep-alive connection; record those answered 202."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(100_000):
        user = f"kill9-{worker}-{i}"
        try:
            conn.request("POST", "/events", json.dumps({"user_id": user, "product_id": product, "type": "view",
                                                        "ts": 1000 + i}), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
        except OSError:
            return  # the server was killed
        if response.status == 202:
            acked.append(user)


def test_events_acknowledged_before_a_kill_9_of_the_api_all_reach_the_graph(served: Served, client: TestClient,
                                                                            tmp_path: Path) -> None:
    import socket
    import urllib.request

    product = client.get("/users/nobody/recommendations", params={"k": 1}).json()["items"][0]["product"]["id"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_dir = tmp_path / "events"
    child = subprocess.Popen([sys.executable, "-c", KILLED_API, str(served.settings.home), str(log_dir), str(port)],
                             cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 600  # a busy shared machine: minutes to load the index
        while True:
            assert child.poll() is None and time.monotonic() < deadline, "the API did not start"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        acked: list[str] = []
        workers = [threading.Thread(target=_post_events_until_refused, args=(port, w, product, acked))
                   for w in range(8)]
        for w in workers:
            w.start()
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL, in the middle of the burst
        child.wait()
    for w in workers:
        w.join()
    assert child.returncode == -signal.SIGKILL and len(acked) >= 300
    settings = served.settings.model_copy(update={"event_log_dir": log_dir})
    encoder = served.client.app.state.service.encoder  # type: ignore[attr-defined]
    with TestClient(create_app(settings, encoder=encoder)) as restarted:
        assert restarted.app.state.service.writer.flush(timeout=60)  # type: ignore[attr-defined]
    store = served.client.app.state.service.store  # type: ignore[attr-defined]
    rows = store.query("MATCH (u:User)-[r:VIEWED]->(p:Product {id: $p}) WHERE u.id STARTS WITH 'kill9-' "
                       "RETURN u.id AS u, count(r) AS n", {"p": product})
    edges = {r["u"]: r["n"] for r in rows}
    assert not set(acked) - set(edges), f"{len(set(acked) - set(edges))} acknowledged events lost"
    assert set(edges.values()) == {1}  # none written twice


def test_a_published_bundle_is_picked_up_without_a_call(served: Served, tmp_path: Path) -> None:
    settings = served.settings.model_copy(update={"bundle_watch_s": 0.2, "event_log_dir": tmp_path / "events"})
    encoder = served.client.app.state.service.encoder  # type: ignore[attr-defined]  (share the loaded model)
    with TestClient(create_app(settings, encoder=encoder)) as watching:
        before = watching.get("/ready").json()["bundle"]["bundle_version"]
        published = served.retrain()
        assert published.name != before
        deadline = time.monotonic() + 120
        while watching.get("/ready").json()["bundle"]["bundle_version"] != published.name:
            assert time.monotonic() < deadline, watching.get("/admin/reload", headers={"X-API-Key": API_KEY}).json()
            time.sleep(0.2)
        status = watching.get("/admin/reload", headers={"X-API-Key": API_KEY}).json()
        assert status["state"] == "succeeded" and status["target"] == published.name
        # `cartograph models rollback` moves the pointer back: picked up the same way
        assert rollback(settings.artifacts_dir).path.name == before
        while watching.get("/ready").json()["bundle"]["bundle_version"] != before:
            assert time.monotonic() < deadline, watching.get("/admin/reload", headers={"X-API-Key": API_KEY}).json()
            time.sleep(0.2)


# -- command line -----------------------------------------------------------------------------------------
def test_quickstart_ingests_and_trains_without_serving(tmp_path: Path) -> None:
    home = tmp_path / "qs"
    home.mkdir()
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    env = {"CARTOGRAPH_HOME": str(home), "CARTOGRAPH_STORE_BACKEND": "embedded", "CARTOGRAPH_NEO4J_URI": ""}
    result = CliRunner().invoke(cli_app, ["quickstart", "--no-progress", "--no-serve", "--epochs", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "bundle written" in " ".join(result.output.split())
    bundle = load_bundle(home / "artifacts")
    assert bundle.config.epochs == 1
    assert len(bundle.id_maps.get("entity", [])) > 500  # the main job extracted entities before training


def test_serve_command_is_registered_and_examples_use_real_ids(served: Served) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output
    from cartograph.commands.serve import example_requests

    lines = example_requests(served.settings, "0.0.0.0", 8000)
    user = served.bundle.id_maps["user"][0]
    assert f"curl 'http://127.0.0.1:8000/users/{user}/recommendations?k=5'" in lines


# -- the OpenAPI contract under generated input -----------------------------------------------------------
# The schema comes from an app that is never started (building one does no I/O); the generated requests go to
# the started app of the ``served`` fixture, through schemathesis' in-process ASGI transport, and every
# response is validated with all of schemathesis' checks: status codes, content types, headers and bodies
# conform to the OpenAPI document, invalid input is refused and valid input accepted, unsupported methods
# answer 405 with a correct ``Allow``, and no 5xx. Bounded: a fixed number of derandomized examples per
# operation, so the run takes the same time and finds the same cases every time.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(store_backend="embedded", home=Path("var/unused"), neo4j_uri=None)).openapi()
)


class _WithoutLifespan:
    """The started app, answering lifespan messages itself: the transport would otherwise start the app's
    lifespan a second time (another store handle, another index build)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


STATUSES: list[int] = []


@schema.parametrize()
@hypothesis.settings(max_examples=12, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_generated_input_keeps_the_contract_under_all_checks(case: Any, served: Served) -> None:
    response = case.call_and_validate(app=_WithoutLifespan(served.client.app))
    STATUSES.append(response.status_code)


def test_zz_generated_input_covered_errors_and_successes() -> None:
    """The generated cases exercised both sides of the contract (runs after the schemathesis tests)."""
    if not STATUSES:
        pytest.skip("schemathesis cases not run in this session")
    assert any(s < 300 for s in STATUSES) and any(400 <= s < 500 for s in STATUSES), sorted(set(STATUSES))
