"""The explore kit (cypher/explore/) on a small hand-checked graph, and `cartograph export-recs`'s write-back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from explore_graph import INJECTION_TITLE, MODEL, build_small_graph
from typer.testing import CliRunner

from cartograph.cli import app
from kg.config import PROJECT_ROOT, Settings, load_settings
from kg.errors import ValidationError
from kg.explore.recs import ModelOutput, RecsExporter, top_k
from kg.queries import QueryLibrary
from kg.store import GraphStore, open_store

LIBRARY = QueryLibrary(PROJECT_ROOT / "cypher")
EXPLORE = [n for n in LIBRARY.names() if n.startswith("explore/")]


@pytest.fixture
def graph(store: GraphStore) -> GraphStore:
    build_small_graph(store)
    return store


def run(store: GraphStore, name: str, **params: Any) -> list[dict[str, Any]]:
    return store.run_named(f"explore/{name}", params)


# -- the library ----------------------------------------------------------------------------------------------


def test_the_kit_is_loaded_from_cypher_explore_beside_the_existing_queries() -> None:
    assert {"explore/user_neighbourhood", "explore/why_recommended", "explore/quality_summary"} <= set(EXPLORE)
    expected = PROJECT_ROOT / "cypher" / "explore" / "user_neighbourhood.cypher"
    assert LIBRARY.get("explore/user_neighbourhood", "kuzu").path == expected
    assert LIBRARY.get("explore/user_neighbourhood", "neo4j").path.name == "user_neighbourhood.neo4j.cypher"
    assert LIBRARY.get("co_purchased", "kuzu").path.parent.name == "queries"  # existing callers unchanged
    assert len(EXPLORE) >= 12


@pytest.mark.parametrize("name", EXPLORE)
def test_every_explore_query_has_a_runnable_example(name: str) -> None:
    for dialect in ("kuzu", "neo4j"):
        query = LIBRARY.get(name, dialect)  # type: ignore[arg-type]
        query.check_parameters(json.loads(query.header["example"]))  # the example gives exactly the parameters


def test_the_browser_guide_is_generated_from_the_kit() -> None:
    from kg.explore.guide import cypher_literal, render_guide

    committed = (PROJECT_ROOT / "cypher" / "guide" / "cartograph.html").read_text(encoding="utf-8")
    assert committed == render_guide(LIBRARY), "run scripts/make_browser_guide.py"
    assert all(f"<h3>{name}</h3>" in committed for name in EXPLORE)
    assert cypher_literal({"id": "it's", "k": 3, "ok": True, "l": ["a"]}) == "{id: 'it\\'s', k: 3, ok: true, l: ['a']}"


def test_a_repeated_header_key_continues_its_value(tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.cypher").write_text("// purpose: one\n// purpose: two\n// params: none\nRETURN 1")
    assert QueryLibrary(tmp_path).get("q", "kuzu").header["purpose"] == "one two"


# -- each query on the small graph (answers worked out by hand from tests/explore_graph.py) ----------------------


def test_user_neighbourhood(graph: GraphStore) -> None:
    rows = run(graph, "user_neighbourhood", user_id="u1", limit=10)
    assert [(r["product_id"], r["kind"], r["brand"], r["categories"], sorted(r["entities"])) for r in rows] == [
        ("p1", "PURCHASED", "Acme", ["Ink"], ["black", "ink cartridge"]),
        ("p3", "PURCHASED", "Zenith", ["Paper"], ["A4"]),
    ]
    u3 = run(graph, "user_neighbourhood", user_id="u3", limit=10)
    assert [(r["product_id"], r["kind"]) for r in u3] == [("p2", "VIEWED"), ("p4", "RATED")]
    assert run(graph, "user_neighbourhood", user_id="nobody", limit=10) == []


def test_why_recommended_lists_every_path_of_three_hops_or_less_best_first(graph: GraphStore) -> None:
    rows = run(graph, "why_recommended", user_id="u1", product_id="p4", limit=20)
    assert [r["path"] for r in rows] == [
        "User:u1 > Product:p1 > Product:p4",  # co-purchase link: 2 hops
        "User:u1 > Product:p1 > Entity:colour:black > Product:p4",
        "User:u1 > Product:p1 > Entity:product_type:ink-cartridge > Product:p4",
        "User:u1 > Product:p1 > User:u2 > Product:p4",  # another buyer of p1 bought p4
        "User:u1 > Product:p3 > Brand:zenith > Product:p4",
        "User:u1 > Product:p1 > Category:ink > Product:p4",  # category paths last
    ]
    assert rows[0]["rel_types"] == ["PURCHASED", "ALSO_BOUGHT"] and rows[0]["hops"] == 2
    assert rows[-1]["category_hops"] == 2
    assert rows[0]["node_names"] == ["u1", "Acme black ink cartridge", "Zenith black ink"]
    assert all("RECOMMENDED" not in r["rel_types"] and "SIMILAR_TO" not in r["rel_types"] for r in rows)
    assert len(run(graph, "why_recommended", user_id="u1", product_id="p4", limit=2)) == 2


def test_brand_entity_cooccurrence_and_brands_bought_together(graph: GraphStore) -> None:
    rows = run(graph, "brand_entity_cooccurrence", min_products=1, limit=50)
    pairs = {(r["brand_id"], r["entity_id"]): (r["products"], r["brand_products"], r["share"]) for r in rows}
    assert pairs[("zenith", "size:a4")] == (1, 2, 0.5)
    assert pairs[("acme", "colour:black")] == (1, 2, 0.5)
    assert len(pairs) == 6 and not any(b == "solo" for b, _ in pairs)
    assert run(graph, "brand_entity_cooccurrence", min_products=2, limit=50) == []
    together = run(graph, "brands_bought_together", min_users=1, limit=10)
    assert [(r["brand_a_id"], r["brand_b_id"], r["users"]) for r in together] == [("acme", "zenith", 3)]


def test_products_sharing_entities(graph: GraphStore) -> None:
    rows = run(graph, "products_sharing_entities", product_id="p1", min_shared=1, limit=10)
    assert [(r["product_id"], r["shared_count"], sorted(r["shared_entities"])) for r in rows] == [
        ("p4", 2, ["black", "ink cartridge"])]
    assert run(graph, "products_sharing_entities", product_id="p1", min_shared=3, limit=10) == []


def test_top_entities_per_category(graph: GraphStore) -> None:
    rows = run(graph, "top_entities_per_category", min_products=1, per_category=5)
    by_cat: dict[str, list[tuple[str, int]]] = {}
    for r in rows:
        by_cat.setdefault(r["category_id"], []).append((r["entity_id"], r["products"]))
    assert by_cat == {
        "ink": [("colour:black", 2), ("product_type:ink-cartridge", 2), ("product_type:ink-cartridges", 1)],
        "paper": [("size:a4", 1)],
    }
    top1 = run(graph, "top_entities_per_category", min_products=2, per_category=1)
    assert {r["category_id"] for r in top1} == {"ink"} and all(r["products"] == 2 for r in top1)


def test_recommendation_coverage_by_brand_and_category(graph: GraphStore) -> None:
    brands = {r["brand_id"]: r for r in run(graph, "recommendation_coverage_by_brand", limit=10)}
    assert {b: (r["products"], r["recommended_products"], r["recommendations"], r["coverage"])
            for b, r in brands.items()} == {"acme": (2, 2, 3, 1.0), "zenith": (2, 1, 1, 0.5)}  # solo: inactive only
    cats = {r["category_id"]: r for r in run(graph, "recommendation_coverage_by_category", limit=10)}
    assert (cats["ink"]["products"], cats["ink"]["recommended_products"], cats["ink"]["recommendations"]) == (3, 3, 4)
    assert cats["paper"]["recommendations"] == 0 and cats["paper"]["coverage"] == 0.0


def test_user_recommendations_and_similar_products(graph: GraphStore) -> None:
    recs = run(graph, "user_recommendations", user_id="u1", limit=10)
    assert [(r["rank"], r["product_id"], r["model"]) for r in recs] == [(1, "p4", MODEL), (2, "p2", MODEL)]
    similar = run(graph, "similar_products", product_id="p1", limit=1)
    assert [(r["product_id"], r["score"]) for r in similar] == [("p4", 0.95)]


def test_data_quality_queries(graph: GraphStore) -> None:
    [summary] = run(graph, "quality_summary")
    assert summary == {"products": 6, "inactive": 1, "without_brand": 1, "without_category": 1,
                       "without_entities": 2, "without_title": 0, "without_price": 2}
    missing = run(graph, "quality_products_missing", limit=10)
    assert [(r["product_id"], r["no_brand"], r["no_category"], r["no_entities"]) for r in missing] == [
        ("p5", True, True, True), ("p6", False, False, True)]
    assert missing[0]["title"] == INJECTION_TITLE  # stored and returned verbatim
    [dup] = run(graph, "quality_duplicate_entities", limit=10)
    assert dup["key"] == "inkcartridge" and sorted(dup["entity_ids"]) == [
        "product_type:ink-cartridge", "product_type:ink-cartridges"]


# -- export-recs ------------------------------------------------------------------------------------------------

USERS = ["u1", "u2", "u3", "ghost"]
PRODUCTS = ["p1", "p2", "p3", "p4", "p5", "p6", "gone"]


def _output(model: str = "m2", seed: int = 0) -> ModelOutput:
    rng = np.random.default_rng(seed)
    return ModelOutput(model, USERS, PRODUCTS, rng.normal(size=(4, 8)).astype(np.float32),
                       rng.normal(size=(7, 8)).astype(np.float32))


def _edges(store: GraphStore, rel: str) -> list[tuple[str, str, int, str, float]]:
    src = "User" if rel == "RECOMMENDED" else "Product"
    rows = store.query(f"MATCH (a:{src})-[r:{rel}]->(b:Product) RETURN a.id AS src, b.id AS dst, r.rank AS rank, "
                       "r.model AS model, r.score AS score ORDER BY src, rank")
    return [(r["src"], r["dst"], r["rank"], r["model"], r["score"]) for r in rows]


def _same(actual: list[tuple[str, str, int, str, float]], expected: list[tuple[str, str, int, str, float]]) -> bool:
    """Edges equal in ids, rank and model, scores equal to float32 precision."""
    return [e[:4] for e in actual] == [e[:4] for e in expected] and all(
        a[4] == pytest.approx(b[4], rel=1e-4, abs=1e-4) for a, b in zip(actual, expected, strict=True))


def _expected_recs(out: ModelOutput, k: int) -> list[tuple[str, str, int, str, float]]:
    """The same top-k computed naively: seen and inactive products and unknown ones excluded."""
    seen = {"u1": {"p1", "p3"}, "u2": {"p1", "p4"}, "u3": {"p2", "p4"}}
    allowed = {"p1", "p2", "p3", "p4", "p5"}  # p6 inactive, "gone" not in the graph
    expected = []
    for i, user in enumerate(out.user_ids[:3]):
        scored = sorted(((-float(out.users[i] @ out.products[j]), pid) for j, pid in enumerate(out.product_ids)
                         if pid in allowed and pid not in seen[user]))
        expected += [(user, pid, rank, out.model, -s) for rank, (s, pid) in enumerate(scored[:k], start=1)]
    return expected


def test_top_k_orders_by_score_then_index_and_drops_excluded() -> None:
    scores = np.array([[0.1, 0.9, 0.9, -np.inf, 0.5], [-np.inf, -np.inf, 0.2, -np.inf, -np.inf]])
    assert top_k(scores, 3) == [[(1, 0.9), (2, 0.9), (4, 0.5)], [(2, 0.2)]]
    assert top_k(scores, 10)[0] == [(1, 0.9), (2, 0.9), (4, 0.5), (0, 0.1)]


def test_export_recs_replaces_the_previous_model_and_is_idempotent(graph: GraphStore) -> None:
    out = _output()
    exporter = RecsExporter(graph, out, k=2, similar_k=2, batch_size=2)
    rec = exporter.export_recommended()
    assert _same(_edges(graph, "RECOMMENDED"), _expected_recs(out, 2))
    assert (rec.sources, rec.written, rec.missing_endpoints) == (4, 6, 2)  # "ghost" is not in the graph
    sim = exporter.export_similar()
    similar = _edges(graph, "SIMILAR_TO")
    assert {m for *_, m, _ in similar} == {"m2"} and sim.written == len(similar) == 12  # p1..p6, 2 each
    assert all(a != b and b not in ("p6", "gone") for a, b, *_ in similar)
    before = (_edges(graph, "RECOMMENDED"), similar)
    again = RecsExporter(graph, out, k=2, similar_k=2, batch_size=3)
    assert again.export_recommended().pruned == 0 and again.export_similar().pruned == 0
    assert (_edges(graph, "RECOMMENDED"), _edges(graph, "SIMILAR_TO")) == before


def test_export_recs_adds_the_models_extra_scores_to_the_dot_products(graph: GraphStore) -> None:
    base = _output()
    calls: list[list[str]] = []

    def lift_p5_for_u2(user_ids: Sequence[str]) -> np.ndarray:
        calls.append(list(user_ids))
        extra = np.zeros((len(user_ids), len(PRODUCTS)), dtype=np.float32)
        extra[[i for i, u in enumerate(user_ids) if u == "u2"], PRODUCTS.index("p5")] = 100.0
        return extra

    out = dataclasses.replace(base, extra_scores=lift_p5_for_u2)
    RecsExporter(graph, out, k=2, batch_size=3).export_recommended()
    edges = _edges(graph, "RECOMMENDED")
    first = {src: (dst, score) for src, dst, rank, _, score in edges if rank == 1}
    u2 = USERS.index("u2")
    assert first["u2"] == ("p5", pytest.approx(float(base.users[u2] @ base.products[4]) + 100.0, rel=1e-4))
    assert calls == [USERS[:3], USERS[3:]]  # once per batch, the batch's users in order
    others = [e for e in edges if e[0] != "u2"]
    assert _same(others, [e for e in _expected_recs(base, 2) if e[0] != "u2"])  # zero extra: unchanged


def test_export_recs_ranks_by_the_models_own_scores_in_place_of_the_dot_products(graph: GraphStore) -> None:
    """EASE's exact scores: the dot products (and any extra) are not read; seen and inactive products still
    excluded."""
    base = _output()
    reversed_products = np.arange(len(PRODUCTS), dtype=np.float32)[::-1].copy()  # p1 best, then p2, ...

    def own(user_ids: Sequence[str]) -> np.ndarray:
        return np.tile(reversed_products, (len(user_ids), 1))

    out = dataclasses.replace(base, own_scores=own, extra_scores=lambda ids: np.full((len(ids), len(PRODUCTS)), 1e6,
                                                                                     dtype=np.float32))
    RecsExporter(graph, out, k=2, batch_size=3).export_recommended()
    edges = _edges(graph, "RECOMMENDED")
    assert edges and all(score == pytest.approx(float(reversed_products[PRODUCTS.index(dst)]))
                         for _, dst, _, _, score in edges)
    recs = _expected_recs(dataclasses.replace(base, users=np.ones((len(USERS), 1), dtype=np.float32),
                                              products=reversed_products[:, None]), 2)
    assert _same(edges, recs)


def test_export_recs_refuses_extra_scores_of_the_wrong_shape(graph: GraphStore) -> None:
    out = dataclasses.replace(_output(), extra_scores=lambda ids: np.zeros((len(ids), 3), dtype=np.float32))
    with pytest.raises(ValidationError, match=r"extra scores have shape \(3, 3\), expected \(3, 7\)"):
        RecsExporter(graph, out, k=2, batch_size=3).export_recommended()


def test_export_recs_crash_midway_leaves_coherent_lists_and_a_rerun_completes(graph: GraphStore) -> None:
    old = _output("old", seed=1)
    RecsExporter(graph, old, k=3, batch_size=2).export_recommended()

    def crash_after_first_batch(rel: str, n: int) -> None:
        raise RuntimeError("killed")

    new = _output("new", seed=2)
    with pytest.raises(RuntimeError):
        RecsExporter(graph, new, k=3, batch_size=2, on_batch=crash_after_first_batch).export_recommended()
    midway = _edges(graph, "RECOMMENDED")
    by_user = {u: {m for a, _, _, m, _ in midway if a == u} for u in ("u1", "u2", "u3")}
    assert by_user == {"u1": {"new"}, "u2": {"new"}, "u3": {"old"}}  # first batch done, the next untouched
    assert _same([e for e in midway if e[3] == "new"], [e for e in _expected_recs(new, 3) if e[0] in ("u1", "u2")])
    assert _same([e for e in midway if e[3] == "old"], [e for e in _expected_recs(old, 3) if e[0] == "u3"])
    RecsExporter(graph, new, k=3, batch_size=2).export_recommended()
    assert _same(_edges(graph, "RECOMMENDED"), _expected_recs(new, 3))


def test_model_output_shapes_are_checked() -> None:
    with pytest.raises(ValidationError, match="user embeddings have shape"):
        ModelOutput("m", ["a"], ["p"], np.zeros((2, 4)), np.zeros((1, 4)))
    with pytest.raises(ValidationError, match="differ in width"):
        ModelOutput("m", ["a"], ["p"], np.zeros((1, 4)), np.zeros((1, 3)))


def test_cli_export_recs_from_the_current_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gnn.bundle import write_bundle
    from gnn.config import TrainConfig

    settings = _cli_settings(tmp_path, monkeypatch)
    with open_store(settings) as store:
        store.init_schema()
        build_small_graph(store)
    out = _output("ignored")
    path = write_bundle(settings.artifacts_dir, config=TrainConfig(model="bpr_mf", epochs=0), snapshot_id="tiny",
                        id_maps={"user": USERS, "product": PRODUCTS}, user_embeddings=out.users,
                        product_embeddings=out.products, metrics={})
    result = CliRunner().invoke(app, ["export-recs", "--k", "2", "--similar-k", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    model = f"bpr_mf@{path.name}"
    assert "RECOMMENDED" in result.output and "SIMILAR_TO" in result.output
    with open_store(settings, read_only=True) as store:
        recs = _edges(store, "RECOMMENDED")
        assert [e[:3] for e in recs] == [e[:3] for e in _expected_recs(_output(model), 2)]
        assert {e[3] for e in recs} == {model}  # the test graph's old model edges are gone
        assert len(_edges(store, "SIMILAR_TO")) == 6


def test_cli_export_recs_without_a_bundle_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cli_settings(tmp_path, monkeypatch)
    result = CliRunner().invoke(app, ["export-recs", "--no-progress"])
    assert result.exit_code == 1 and "no current bundle" in " ".join(result.output.split())


def _cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("CARTOGRAPH_NEO4J_URI", "CARTOGRAPH_CONFIG", "CARTOGRAPH_EMBEDDED_PATH", "CARTOGRAPH_ARTIFACTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    return load_settings()

