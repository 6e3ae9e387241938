"""The rebuild's evaluation gate, on hand-made metrics."""

from __future__ import annotations

import pytest

from gnn.gate import evaluate_gate

CURRENT = {"test": {"ndcg@10": 0.020, "recall@20": 0.060}}


def test_first_bundle_is_published() -> None:
    assert evaluate_gate(None, CURRENT).publish


def test_within_tolerance_is_published() -> None:
    candidate = {"test": {"ndcg@10": 0.0197, "recall@20": 0.061}}  # -1.5% and +1.7%
    decision = evaluate_gate(CURRENT, candidate, tolerance=0.02)
    assert decision.publish
    assert decision.compared["test.ndcg@10"] == (0.020, 0.0197)


def test_a_regression_beyond_tolerance_keeps_the_old_bundle_and_says_why() -> None:
    candidate = {"test": {"ndcg@10": 0.0150, "recall@20": 0.061}}
    decision = evaluate_gate(CURRENT, candidate, tolerance=0.02)
    assert not decision.publish
    assert any(r.startswith("test.ndcg@10: 0.0150 < 0.0200") for r in decision.reasons)


def test_missing_candidate_metric_blocks_and_bad_tolerance_is_refused() -> None:
    assert not evaluate_gate(CURRENT, {"test": {"ndcg@10": 0.03}}).publish
    with pytest.raises(ValueError, match="tolerance"):
        evaluate_gate(CURRENT, CURRENT, tolerance=1.5)
