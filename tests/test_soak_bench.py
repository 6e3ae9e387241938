"""bench/soak.py's arithmetic: the memory slope it reports and what counts as an error."""

from __future__ import annotations

import sys

from kg.config import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import soak  # noqa: E402


def test_the_memory_slope_is_megabytes_per_minute() -> None:
    timeline = [{"t_s": t, "rss_mb": 900 + 0.05 * t} for t in range(300, 610, 10)]  # 3 MB a minute
    assert soak.rss_slope(timeline) == 3.0
    assert soak.rss_slope([{"t_s": 0, "rss_mb": 1.0}]) is None


def test_a_degraded_search_and_a_shed_explanation_are_answers_not_errors() -> None:
    window = soak.Window()
    for outcome in ("ok", soak.DEGRADED, "shed", "TimeoutError", "500"):
        window.record("search", outcome, 0.01)
    assert window.summary(10, 2**30, 1.0)["errors"] == 2
