"""The judged-query search benchmark (bench/search.py): its metric glue on a hand-computed example, the frozen
query set's shape, and one run of the whole benchmark on two queries over the shipped sample."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import pytest

from kg.config import PROJECT_ROOT, Settings

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import search_eval  # noqa: E402

TEXT_CACHE = PROJECT_ROOT / "var" / "test-cache"


def test_metric_glue_on_a_hand_computed_example() -> None:
    # Labels: a, d Exact (gain 1), b Substitute (gain 0.1), c Irrelevant; x was never judged.
    qrels = search_eval.qrels_by_query([{"query_id": "q", "product_id": p, "label": g}
                                        for p, g in (("a", "E"), ("b", "S"), ("c", "I"), ("d", "E"))])
    scores = search_eval.per_query(qrels, {"q": ["b", "a", "x"]})["q"]
    dcg = 0.1 / math.log2(2) + 1.0 / math.log2(3)  # x is unjudged: Irrelevant
    ideal = 1.0 + 1.0 / math.log2(3) + 0.1 / math.log2(4)
    assert scores["ndcg@10"] == pytest.approx(dcg / ideal)
    assert scores["p@5"] == pytest.approx(1 / 5)  # one Exact in the top 5
    assert scores["p@5_es"] == pytest.approx(2 / 5)  # Exact or Substitute
    assert scores["mrr"] == pytest.approx(1 / 2)  # the first Exact is at rank 2
    assert scores["recall@50"] == pytest.approx(1 / 2)  # a found, d not


def test_empty_results_score_zero_and_queries_without_an_exact_product_are_left_out() -> None:
    qrels = search_eval.qrels_by_query([{"query_id": "q", "product_id": "a", "label": "E"},
                                        {"query_id": "none", "product_id": "a", "label": "I"}])
    out = search_eval.per_query(qrels, {"q": [], "none": ["a"]})
    assert set(out) == {"q"}
    assert all(v == 0.0 for v in out["q"].values())
    with pytest.raises(ValueError, match="label must be one of"):
        search_eval.qrels_by_query([{"query_id": "q", "product_id": "a", "label": "X"}])


def test_the_frozen_query_set_and_labels_match_their_checksums() -> None:
    readme = (BENCH / "search" / "README.md").read_text(encoding="utf-8")
    for name in ("queries.jsonl", "qrels.jsonl"):
        digest = hashlib.sha256((BENCH / "search" / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme, f"{name} changed since it was frozen"
    queries = search_eval.read_jsonl(BENCH / "search" / "queries.jsonl")
    assert len({q["id"] for q in queries}) == len(queries)
    for kind in {q["kind"] for q in queries}:
        splits = [q["split"] for q in queries if q["kind"] == kind]
        assert abs(splits.count("dev") - splits.count("test")) <= 2, kind  # stratified ~50/50 by kind


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cartograph.commands.quickstart import train_quick
    from kg.ingest.run import run_ingest

    home = tmp_path_factory.mktemp("search") / "home"
    home.mkdir()
    TEXT_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(TEXT_CACHE, target_is_directory=True)
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None)
    run_ingest(settings, settings.sample_dir, progress=False)
    train_quick(settings, 1, progress=False, model="lightgcn")
    return home


def test_the_benchmark_runs_on_the_sample(sample_home: Path, tmp_path: Path) -> None:
    import search as bench_search

    products = search_eval.read_jsonl(PROJECT_ROOT / "data" / "sample" / "products.jsonl")
    eyeliners = [p["id"] for p in products if "Eyeliner" in p["categories"]]
    maybelline = [p for p in eyeliners if any(x["id"] == p and x["brand"] == "Maybelline" for x in products)]
    queries = [{"id": "s1", "text": "maybelline eyeliner", "catalog": "amazon-beauty", "kind": "brand",
                "band": "torso", "split": "test"},
               {"id": "s2", "text": "maybeline eyeliner", "catalog": "amazon-beauty", "kind": "misspelled",
                "band": "torso", "split": "test", "corrected": "maybelline eyeliner"},
               {"id": "s3", "text": "lawn mower", "catalog": "amazon-beauty", "kind": "no-match", "band": "tail",
                "split": "test"}]
    qrels = [{"query_id": q, "product_id": p, "label": "E" if p in maybelline else "S"}
             for q in ("s1", "s2") for p in eyeliners]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qrels), encoding="utf-8")
    out = tmp_path / "out" / "search"
    assert bench_search.main(["--homes", f"amazon-beauty={sample_home}", "--queries", str(tmp_path / "q.jsonl"),
                              "--qrels", str(tmp_path / "r.jsonl"), "--out", str(out)]) == 0
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    res = doc["results"]["all"]
    assert set(res) == {"bm25", "dense", "hybrid", "graph", "personalised", "final"}
    assert res["bm25"]["queries"] == 2  # the no-match query has no Exact product: filler only
    assert res["bm25"]["by_kind"]["brand"]["ndcg@10"] > 0  # eyeliners are in the titles
    assert res["bm25"]["misspelled_vs_corrected"]["corrected_ndcg@10"] > 0
    assert all(0.0 <= r["ndcg@10"] <= 1.0 and r["latency_ms"]["requests"] >= 2 for r in res.values())
    assert res["personalised"]["latency_ms"]["requests"] == 2 * 3  # two users per query
    assert len(doc["targets"]) == 6
    assert "| bm25 |" in out.with_suffix(".md").read_text(encoding="utf-8")
