"""bench/soak.py's arithmetic: the memory slope it reports and what counts as an error."""

from __future__ import annotations

import sys
from pathlib import Path

from kg.config import PROJECT_ROOT, Settings
from kg.schema import NodeLabel
from kg.store import open_store

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import soak  # noqa: E402


def test_the_memory_slope_is_megabytes_per_minute() -> None:
    timeline = [{"t_s": t, "rss_mb": 900 + 0.05 * t} for t in range(300, 610, 10)]  # 3 MB a minute
    assert soak.slope(timeline) == 3.0
    assert soak.slope([{"t_s": 0, "rss_mb": 1.0}]) is None


def test_a_slope_skips_intervals_without_a_reading() -> None:
    timeline = [{"t_s": 0, "recent_users": 100}, {"t_s": 30, "recent_users": None}, {"t_s": 60, "recent_users": 160}]
    assert soak.slope(timeline, "recent_users") == 60.0


def test_a_degraded_search_and_a_shed_explanation_are_answers_not_errors() -> None:
    window = soak.Window()
    for outcome in ("ok", soak.DEGRADED, "shed", "TimeoutError", "500"):
        window.record("search", outcome, 0.01)
    summary = window.summary(10, {"rss_mb": 1024.0, "graph_mb": 12.0, "recent_users": 5, "loadavg_1m": 1.0})
    assert summary["errors"] == 2
    assert summary["rss_mb"] == 1024.0 and summary["recent_users"] == 5


def test_graph_memory_writes_the_new_users_and_records_memory_along_the_way(tmp_path: Path) -> None:
    import graph_memory

    settings = Settings(home=tmp_path, store_backend="embedded", neo4j_uri=None)
    with open_store(settings) as store:
        store.init_schema()
        store.upsert_nodes(NodeLabel.PRODUCT, [{"id": f"p{i}", "title": f"product {i}"} for i in range(5)])
    timeline = graph_memory.write_events(tmp_path, users=20, batch=5, report_every=2)
    assert [point["users"] for point in timeline] == [10, 20]
    assert all(point["rss_mb"] > 0 and point["graph_mb"] > 0 for point in timeline)
    with open_store(settings) as store:  # written into a copy: the home's own graph is untouched
        assert store.query("MATCH (u:User) RETURN count(u) AS n") == [{"n": 0}]
