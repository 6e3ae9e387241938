"""The main job on Neo4j, end to end: ``cartograph quickstart`` with ``CARTOGRAPH_NEO4J_URI`` set, then the API
(recommendations, search, similar items, explanations whose Cypher runs on Neo4j, events), ``export-recs``,
every query of the explore kit, ``export-rdf``, and ``rebuild`` while the API keeps serving and writing events.

Runs against the session's Neo4j (``CARTOGRAPH_TEST_NEO4J_URI``, e.g. ``scripts/neo4j-local``; or a
testcontainers one); the database is emptied first. Text embeddings go through the cache shared with test_api.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Neo4jServer, wipe_neo4j
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from cartograph.cli import app
from gnn.bundle import load_bundle
from kg.config import PROJECT_ROOT, Settings
from kg.queries import QueryLibrary
from kg.store import GraphStore, open_store

pytestmark = pytest.mark.neo4j

TEXT_CACHE = PROJECT_ROOT / "var" / "test-cache"  # shared with test_api and test_rebuild
SAMPLE = PROJECT_ROOT / "data" / "sample"
LIBRARY = QueryLibrary(PROJECT_ROOT / "cypher")


@dataclass
class MainJob:
    settings: Settings
    env: dict[str, str]
    output: str

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=self.env)
        assert result.exit_code == 0, f"cartograph {' '.join(args)}:\n{result.output}\n{result.exception!r}"
        return result.output

    def store(self) -> GraphStore:
        return open_store(self.settings)


@pytest.fixture(scope="module")
def main_job(neo4j_server: Neo4jServer, neo4j_driver: object, tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    wipe_neo4j(neo4j_driver)
    home = tmp_path_factory.mktemp("neo4j-main-job") / "home"
    home.mkdir()
    TEXT_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    env = {**neo4j_server.env(), "CARTOGRAPH_HOME": str(home), "CARTOGRAPH_BUNDLE_WATCH_S": "0"}
    settings = Settings(store_backend="neo4j", home=home, neo4j_uri=neo4j_server.uri, neo4j_user=neo4j_server.user,
                        neo4j_password=neo4j_server.password, bundle_watch_s=0)  # type: ignore[arg-type]
    result = CliRunner().invoke(app, ["quickstart", "--no-serve", "--no-progress", "--epochs", "2"], env=env)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return MainJob(settings, env, result.output)


@pytest.fixture(scope="module")
def client(main_job: MainJob) -> Iterator[TestClient]:
    with TestClient(create_app(main_job.settings)) as client:
        yield client


def a_user(main_job: MainJob, min_items: int = 4) -> str:
    with main_job.store() as store:
        [row] = store.query("MATCH (u:User)-[:PURCHASED]->(p:Product) WITH u, count(p) AS n WHERE n >= $n "
                            "RETURN u.id AS id ORDER BY id LIMIT 1", {"n": min_items})
    return str(row["id"])


# -- quickstart ---------------------------------------------------------------------------------------------------


def test_quickstart_on_neo4j_loads_the_sample_extracts_and_trains(main_job: MainJob) -> None:
    assert "bundle written" in main_job.output
    info = json.loads(main_job.cli("info", "--json"))
    assert info["backend"] == "neo4j"
    manifest = json.loads((SAMPLE / "MANIFEST.json").read_text())
    assert info["nodes"]["Product"] == 2500 and info["nodes"]["User"] == 1924
    assert info["relationships"]["ALSO_BOUGHT"] > 0 and info["relationships"]["MENTIONS"] > 5000
    assert info["nodes"]["Entity"] > 1000
    assert sum(info["relationships"].get(t, 0) for t in ("PURCHASED", "VIEWED", "RATED")) >= 13000, manifest
    bundle = load_bundle(main_job.settings.artifacts_dir)  # type: ignore[arg-type]
    assert len(bundle.id_maps["product"]) == 2500
    # A second quickstart changes nothing in the graph (idempotent upserts, incremental extraction).
    again = CliRunner().invoke(app, ["quickstart", "--no-train", "--no-progress"], env=main_job.env)
    assert again.exit_code == 0, again.output
    assert json.loads(main_job.cli("info", "--json")) == info


# -- the API on Neo4j ---------------------------------------------------------------------------------------------


def test_the_api_serves_recommendations_search_and_similar_items(main_job: MainJob, client: TestClient) -> None:
    ready = client.get("/ready").json()
    assert ready["ready"] and not ready["degraded"], ready
    user = a_user(main_job)
    recs = client.get(f"/users/{user}/recommendations", params={"k": 5})
    assert recs.status_code == 200 and recs.json()["strategy"] in ("sequence", "personalised"), recs.text
    assert len(recs.json()["items"]) == 5
    search = client.get("/search", params={"q": "maybelline eyeliner", "user_id": user, "k": 5})
    assert search.status_code == 200 and search.json()["items"], search.text
    product = recs.json()["items"][0]["product"]["id"]
    similar = client.get(f"/products/{product}/similar", params={"k": 5})
    assert similar.status_code == 200 and similar.json()["items"], similar.text


def test_explanations_come_from_neo4j_and_their_cypher_shows_the_path_there(
        main_job: MainJob, client: TestClient) -> None:
    user = a_user(main_job)
    items = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()["items"]
    kinds: set[str] = set()
    with main_job.store() as store:
        for item in items:
            r = client.get(f"/users/{user}/explanations/{item['product']['id']}")
            assert r.status_code == 200, r.text
            for path in r.json()["paths"]:
                kinds.add(path["kind"])
                rows = store.query(path["cypher"]["text"], path["cypher"]["params"])
                assert rows, f"the explanation's Cypher finds nothing on Neo4j: {path['cypher']}"
    assert kinds, "no explanation path for any of 10 recommendations"


def test_events_are_written_to_neo4j_by_the_background_writer(main_job: MainJob, client: TestClient) -> None:
    user = f"neo4j-event-user-{uuid.uuid4().hex[:6]}"
    product = client.get("/search", params={"q": "nail polish", "k": 1}).json()["items"][0]["product"]["id"]
    for kind in ("view", "purchase"):
        r = client.post("/events", json={"user_id": user, "product_id": product, "type": kind})
        assert r.status_code == 202 and r.json()["queued"] is True, r.text
    state = client.app.state.service  # type: ignore[attr-defined]
    assert state.writer.flush(timeout=30), state.writer.last_error
    with main_job.store() as store:
        rows = store.query("MATCH (:User {id: $u})-[r]->(:Product {id: $p}) RETURN type(r) AS t ORDER BY t",
                           {"u": user, "p": product})
    assert [r["t"] for r in rows] == ["PURCHASED", "VIEWED"]
    assert state.events.backlog == 0


# -- export-recs, the explore kit, export-rdf ----------------------------------------------------------------------


def example_params(name: str, user: str, product: str) -> dict[str, Any]:
    params: dict[str, Any] = json.loads(LIBRARY.get(name, "neo4j").header["example"])
    for key in params:
        if key == "user_id":
            params[key] = user
        elif key == "product_id":
            params[key] = product
        elif key.startswith("min_"):
            params[key] = 1
    return params


def test_export_recs_then_every_explore_query_runs_on_neo4j(main_job: MainJob) -> None:
    out = main_job.cli("export-recs", "--k", "5", "--similar-k", "3", "--no-progress")
    assert "RECOMMENDED" in out
    user = a_user(main_job)
    with main_job.store() as store:
        [rec] = store.query("MATCH (:User {id: $u})-[r:RECOMMENDED]->(p:Product) "
                            "WHERE EXISTS { (p)-[:MENTIONS]->()<-[:MENTIONS]-(q:Product) WHERE q <> p } "
                            "RETURN p.id AS id ORDER BY r.rank LIMIT 1", {"u": user})
        names = [n for n in LIBRARY.names() if n.startswith("explore/")]
        empty = []
        for name in names:
            rows = store.run_named(name, example_params(name, user, rec["id"]))
            if not rows:
                empty.append(name)
    # On the sample every query has an answer but the duplicate-entity check (extraction merged them).
    assert set(empty) <= {"explore/quality_duplicate_entities", "explore/quality_products_missing"}, empty
    # The command line's way in, with typed parameters.
    table = main_job.cli("query", "--name", "explore/why_recommended", "--param", f"user_id={user}",
                         "--param", f"product_id={rec['id']}", "--param", "limit:int=5", "--json")
    assert json.loads(table[table.index("["):])


def test_export_rdf_writes_turtle_and_json_ld(main_job: MainJob, tmp_path: Path) -> None:
    main_job.cli("export-rdf", "--out", str(tmp_path), "--limit", "50")
    turtle = (tmp_path / "cartograph.ttl").read_text()
    assert "schema:Product" in turtle or "schema.org/Product" in turtle
    assert json.loads((tmp_path / "cartograph.jsonld").read_text())


# -- rebuild beside the serving API ---------------------------------------------------------------------------------


def sample_export(folder: Path) -> tuple[Path, list[str]]:
    """The sample's catalog with 3 products removed and one added (texts never seen by the text cache)."""
    rows = [json.loads(line) for line in (SAMPLE / "products.jsonl").open()]
    run = uuid.uuid4().hex[:8]
    added = {**rows[10], "id": "NEO4J-NEW-1", "title": f"argan oil repair shampoo sulfate free {run}"}
    folder.mkdir(parents=True)
    with (folder / "products.jsonl").open("w") as f:
        for row in [*rows[3:], added]:
            f.write(json.dumps(row) + "\n")
    return folder / "products.jsonl", [r["id"] for r in rows[:3]]


def test_rebuild_runs_while_the_api_writes_events_without_waiting(
        main_job: MainJob, client: TestClient, tmp_path: Path) -> None:
    catalog, removed = sample_export(tmp_path / "export")
    before = load_bundle(main_job.settings.artifacts_dir).version  # type: ignore[arg-type]
    outcome: dict[str, Any] = {}

    def job() -> None:
        outcome["result"] = CliRunner().invoke(app, ["rebuild", "--catalog", str(catalog), "--finetune-epochs", "1",
                                                     "--tolerance", "0.99", "--no-progress"], env=main_job.env)

    user = a_user(main_job)
    product = client.get(f"/users/{user}/recommendations", params={"k": 1}).json()["items"][0]["product"]["id"]
    thread = threading.Thread(target=job)
    thread.start()
    statuses = []
    while thread.is_alive() or not statuses:
        r = client.post("/events", json={"user_id": user, "product_id": product, "type": "view"})
        statuses.append(r.status_code)
        assert client.get(f"/users/{user}/explanations/{product}").status_code == 200
        time.sleep(0.5)
    thread.join()
    result = outcome["result"]
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "outcome: published" in result.output, result.output
    assert set(statuses) == {202}, statuses
    writer = client.app.state.service.writer  # type: ignore[attr-defined]
    assert writer.flush(timeout=30), writer.last_error  # Neo4j takes writers from both processes
    after = load_bundle(main_job.settings.artifacts_dir)  # type: ignore[arg-type]
    assert after.version != before and "NEO4J-NEW-1" in after.id_maps["product"]
    with main_job.store() as store:
        rows = store.query("MATCH (p:Product) WHERE p.id IN $ids RETURN p.active AS active", {"ids": removed})
    assert [r["active"] for r in rows] == [False, False, False]
    assert client.post("/admin/reload").status_code in (401, 403, 503)  # no admin key configured
