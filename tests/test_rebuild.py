"""Rebuild jobs: the catalog diff, the graph step, resuming after a failure, the lock, the CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cartograph.cli import app
from cartograph.commands.quickstart import train_quick
from gnn.bundle import load_bundle
from gnn.rebuild import PublishStep, rebuild_steps
from kg.config import PROJECT_ROOT, Settings
from kg.errors import RebuildError, RebuildLockedError
from kg.extract.pipeline import run_extract
from kg.ingest.pipeline import dump_graph, ingest, plan_products
from kg.ingest.readers import open_reader
from kg.ingest.run import run_ingest
from kg.rebuild.diff import diff_catalog
from kg.rebuild.job import GraphStep, JobContext, PlanStep, RebuildJob, job_inputs, outcome_of
from kg.rebuild.lock import RebuildLock
from kg.rebuild.record import JobRecord
from kg.store import GraphStore, open_store

V1 = [
    {"id": "p1", "title": "Sedu ionic flat iron", "brand": "Sedu", "categories": ["Hair Care"], "price": 59.5},
    {"id": "p2", "title": "Matte lipstick red", "brand": "Maybelline", "categories": ["Lips"], "price": 7.0},
    {"id": "p3", "title": "Nail polish crackle", "brand": "OPI", "categories": ["Nails"]},
    {"id": "p4", "title": "Hair spray strong hold", "brand": "Redken", "categories": ["Hair Care"]},
]
V2 = [
    V1[0],                                                                        # unchanged
    {**V1[1], "title": "Matte lipstick ruby red"},                                 # text changed
    {**V1[2], "brand": "Essie", "categories": ["Nails", "Makeup"]},                # brand and categories changed
    {"id": "p5", "title": "Argan oil shampoo", "brand": "Moroccanoil", "categories": ["Hair Care"]},  # added
]                                                                                  # p4 removed
EVENTS = [{"user_id": "u1", "product_id": "p1", "type": "purchase", "seq": 0},
          {"user_id": "u1", "product_id": "p5", "type": "purchase", "seq": 1}]


def write_catalog(folder: Path, products: list[dict[str, Any]], events: list[dict[str, Any]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products), encoding="utf-8")
    if events:
        (folder / "users.jsonl").write_text("".join(json.dumps({"id": u}) + "\n"
                                                    for u in sorted({e["user_id"] for e in events})))
        (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return folder


def load(store: GraphStore, folder: Path, tmp_path: Path) -> None:
    ingest(open_reader(folder), store, quarantine_path=tmp_path / "q.jsonl", report_path=tmp_path / "r.json",
           progress=False)


def product(store: GraphStore, pid: str) -> dict[str, Any]:
    rows = store.query("MATCH (p:Product) WHERE p.id = $id RETURN p.title AS title, p.active AS active", {"id": pid})
    return rows[0]


def targets(store: GraphStore, pid: str, rel: str) -> set[str]:
    rows = store.query(f"MATCH (p:Product)-[:{rel}]->(x) WHERE p.id = $id RETURN x.id AS id", {"id": pid})
    return {r["id"] for r in rows}


def test_diff_names_added_changed_text_changed_removed(store: GraphStore, tmp_path: Path) -> None:
    load(store, write_catalog(tmp_path / "v1", V1), tmp_path)
    changes = diff_catalog(plan_products(open_reader(write_catalog(tmp_path / "v2", V2)), store), store)
    assert changes.added == ["p5"]
    assert sorted(changes.changed) == ["p2", "p3"]
    assert sorted(changes.text_changed) == ["p2", "p5"]
    assert changes.removed == ["p4"]
    assert changes.unchanged == 1
    assert changes.stale_made_by == [("p3", "opi")]
    assert changes.stale_in_category == []  # p3 keeps Nails and gains Makeup


def test_diff_of_the_graphs_own_catalog_is_empty(store: GraphStore, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "v1", V1)
    load(store, folder, tmp_path)
    changes = diff_catalog(plan_products(open_reader(folder), store), store)
    assert changes.touched == 0 and changes.unchanged == len(V1)


def test_diff_leaves_products_of_other_sources_alone(store: GraphStore, tmp_path: Path) -> None:
    load(store, write_catalog(tmp_path / "v1", V1), tmp_path)
    store.upsert_nodes("Product", [{"id": "x9", "title": "from another feed", "active": True, "source": "other"}])
    changes = diff_catalog(plan_products(open_reader(write_catalog(tmp_path / "v2", V2)), store), store)
    assert "x9" not in changes.removed


def test_an_export_that_names_its_source_is_that_sources_catalog(store: GraphStore, tmp_path: Path) -> None:
    feed = [{**p, "source": "feed-b"} for p in V1]
    load(store, write_catalog(tmp_path / "a", [{"id": "a1", "title": "from feed a"}]), tmp_path)
    load(store, write_catalog(tmp_path / "b", feed), tmp_path)
    export = write_catalog(tmp_path / "b2", feed[:3])  # feed b without p4
    changes = diff_catalog(plan_products(open_reader(export), store), store)
    assert changes.sources == ["feed-b"] and changes.removed == ["p4"]  # a1 (source cartograph) untouched
    assert changes.unchanged == 3


def run_job(settings: Settings, catalog: Path, events: Path | None = None, steps: list[Any] | None = None,
            log: list[str] | None = None) -> RebuildJob:
    inputs = job_inputs(catalog, events, model=False)
    job = RebuildJob(settings, inputs, steps or rebuild_steps(inputs),
                     log=(log.append if log is not None else lambda _: None), progress=False)
    job.run()
    return job


def test_rebuild_applies_the_export_to_the_graph(settings: Settings, tmp_path: Path) -> None:
    run_job(settings, write_catalog(tmp_path / "v1", V1))
    v2 = write_catalog(tmp_path / "v2", V2)
    events = write_catalog(tmp_path / "events", [], EVENTS)  # users.jsonl + events.jsonl
    (events / "products.jsonl").unlink()
    job = run_job(settings, v2 / "products.jsonl", events)
    with open_store(settings, read_only=True) as store:
        assert product(store, "p2")["title"] == "Matte lipstick ruby red"
        assert product(store, "p4")["active"] is False  # removed: inactive, still there
        assert product(store, "p5")["active"] is True
        assert targets(store, "p3", "MADE_BY") == {"essie"}
        assert targets(store, "p3", "IN_CATEGORY") == {"nails", "makeup"}
        assert store.count_relationships()["PURCHASED"] == 2
    record = json.loads(job.record_path.read_text())
    assert record["outcome"] == "graph-only"
    assert record["steps"]["plan"]["details"]["removed"] == 1
    assert record["steps"]["graph"]["details"]["deactivated"] == 1
    assert record["steps"]["graph"]["details"]["stale_edges_deleted"] == 1


def test_rerunning_a_finished_job_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    run_job(settings, write_catalog(tmp_path / "v1", V1))
    v2 = write_catalog(tmp_path / "v2", V2)
    run_job(settings, v2)
    with open_store(settings, read_only=True) as store:
        before = dump_graph(store)
    log: list[str] = []
    run_job(settings, v2, log=log)
    assert any("plan: done in an earlier run" in line for line in log)
    with open_store(settings, read_only=True) as store:
        assert dump_graph(store) == before


class Boom:
    name = "boom"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("disk full")


def test_a_failed_job_resumes_after_its_last_completed_step(settings: Settings, tmp_path: Path) -> None:
    run_job(settings, write_catalog(tmp_path / "v1", V1))
    v2 = write_catalog(tmp_path / "v2", V2)
    with pytest.raises(RebuildError, match="step 'boom' failed: disk full"):
        run_job(settings, v2, steps=[PlanStep(), GraphStep(), Boom()])
    inputs = job_inputs(v2, None, model=False)
    record = json.loads((settings.home / "rebuild" / inputs.job_id / "job.json").read_text())
    assert record["outcome"] == "failed" and record["steps"]["boom"]["status"] == "failed"
    log: list[str] = []
    run_job(settings, v2, log=log)  # the same inputs: the same job, resumed
    assert any("graph: done in an earlier run" in line for line in log)
    with open_store(settings, read_only=True) as store:
        assert product(store, "p4")["active"] is False


def test_a_second_job_is_refused_while_one_holds_the_lock(settings: Settings, tmp_path: Path) -> None:
    v1 = write_catalog(tmp_path / "v1", V1)
    with (RebuildLock(settings.home / "rebuild" / "rebuild.lock", "other-job"),
          pytest.raises(RebuildLockedError, match=r"another rebuild is running.*other-job")):
        run_job(settings, v1)
    run_job(settings, v1)  # released: runs


def test_missing_catalog_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(RebuildError, match="does not exist"):
        job_inputs(tmp_path / "nope.jsonl", None)


def test_cli_rebuild_prints_the_job_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    monkeypatch.delenv("CARTOGRAPH_NEO4J_URI", raising=False)
    result = CliRunner().invoke(app, ["rebuild", "--catalog", str(write_catalog(tmp_path / "v1", V1)),
                                      "--no-model", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "outcome: graph-only" in result.output
    missing = CliRunner().invoke(app, ["rebuild", "--catalog", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "does not exist" in " ".join(missing.output.split())


# -- the model steps, on the shipped sample --------------------------------------------------------------
TEXT_CACHE = PROJECT_ROOT / "var" / "test-cache"  # shared with test_api: MiniLM encodes the sample once


def main_job_home(home: Path) -> Settings:
    """The main job's state on the sample in ``home``: ingested, entities extracted, a 1-epoch bundle current."""
    home.mkdir()
    TEXT_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None)
    run_ingest(settings, PROJECT_ROOT / "data" / "sample", progress=False)
    run_extract(settings, progress=False)
    train_quick(settings, 1, progress=False)
    return settings


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return main_job_home(tmp_path_factory.mktemp("rebuild") / "home")


def sample_export(folder: Path) -> tuple[Path, dict[str, list[str]]]:
    """The sample's products with 4 removed, 3 retitled and 2 added (brand and categories of existing ones)."""
    rows = [json.loads(line) for line in (PROJECT_ROOT / "data" / "sample" / "products.jsonl").open()]
    removed, retitled = [r["id"] for r in rows[:4]], [r["id"] for r in rows[4:7]]
    run = uuid.uuid4().hex[:8]  # texts never seen before, even by the shared text cache
    for r in rows[4:7]:
        r["title"] = f"{r['title']} refill pack {run}"
    added = [{**rows[10], "id": "NEW-1", "title": f"argan oil repair shampoo sulfate free {run}"},
             {**rows[11], "id": "NEW-2", "title": f"matte liquid lipstick long wear {run}"}]
    return write_catalog(folder, rows[4:] + added), {"removed": removed, "retitled": retitled,
                                                      "added": ["NEW-1", "NEW-2"]}


def test_rebuild_warm_starts_gates_and_publishes_with_only_changed_text_reprocessed(
        trained: Settings, tmp_path: Path) -> None:
    before = load_bundle(trained.artifacts_dir)  # type: ignore[arg-type]
    export, change = sample_export(tmp_path / "export")
    inputs = job_inputs(export, None)
    job = RebuildJob(trained, inputs, rebuild_steps(inputs, finetune_epochs=1, tolerance=0.99), progress=False,
                     log=lambda _: None)
    record = job.run()
    steps = record.steps
    assert [s.status for s in steps.values()] == ["done"] * 6
    assert steps["plan"].details["added"] == 2 and steps["plan"].details["removed"] == 4
    assert steps["plan"].details["text_changed"] == 5
    assert steps["extract"].details["processed"] == 5  # only the new and retitled products
    assert steps["model"].details["text"]["product"]["encoded"] == 5  # the rest came from the cache
    assert steps["model"].details["text"]["entity"]["encoded"] <= steps["extract"].details["entities_new"]
    assert steps["model"].details["mode"] == "warm-start"
    assert steps["model"].details["current_metrics"] is not None
    assert record.outcome == "published"
    after = load_bundle(trained.artifacts_dir)  # type: ignore[arg-type]
    assert after.version == steps["publish"].details["published"] != before.version
    assert {"NEW-1", "NEW-2"} <= set(after.id_maps["product"])
    assert (after.path / "rebuild_job.json").is_file()
    with open_store(trained, read_only=True) as store:
        assert all(product(store, pid)["active"] is False for pid in change["removed"])


def test_a_gate_that_says_no_keeps_the_current_bundle(trained: Settings, tmp_path: Path) -> None:
    current = load_bundle(trained.artifacts_dir)  # type: ignore[arg-type]
    inputs = job_inputs(write_catalog(tmp_path / "x", V1), None)
    record = JobRecord(job_id=inputs.job_id, inputs=inputs)
    record.step("gate").details = {"publish": False, "reasons": ["test.ndcg@10: 0.0100 < 0.0200 - 2%"],
                                   "current_bundle": current.version, "candidate_bundle": current.version}
    ctx = JobContext(trained, inputs, record, tmp_path / "job", lambda _: None, False)
    assert PublishStep().run(ctx) == {"published": None, "kept": current.version}
    record.step("publish").status = "done"
    record.step("publish").details = {"published": None}
    assert outcome_of(record) == ("kept", "test.ndcg@10: 0.0100 < 0.0200 - 2%")
    assert load_bundle(trained.artifacts_dir).version == current.version  # type: ignore[arg-type]
