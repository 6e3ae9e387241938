"""The evaluation gate of a rebuild: publish a new bundle only if it does not regress.

Both models are measured on the same held-out data (the new graph's split), and
each gated metric of the candidate must reach ``(1 - tolerance)`` times the current model's. The tolerance is
relative because metric scales differ by orders of magnitude between datasets; a small one (default 2%)
absorbs the noise of re-training while catching a real regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

#: ``<evaluation set>.<metric>`` pairs the gate checks by default.
DEFAULT_GATED: tuple[str, ...] = ("test.ndcg@10", "test.recall@20")

Metrics = Mapping[str, Mapping[str, float]]


class GateDecision(BaseModel):
    """Whether to publish, and why, with the figures compared."""

    publish: bool
    reasons: list[str] = Field(default_factory=list)
    tolerance: float
    compared: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    """``set.metric`` -> (current, candidate)."""


def _get(metrics: Metrics | None, dotted: str) -> float | None:
    if metrics is None:
        return None
    split, _, name = dotted.partition(".")
    value = metrics.get(split, {}).get(name)
    return None if value is None else float(value)


def evaluate_gate(current: Metrics | None, candidate: Metrics, *, tolerance: float = 0.02,
                  gated: Sequence[str] = DEFAULT_GATED) -> GateDecision:
    """Compare ``candidate`` with ``current`` (``None``: there is no current model, so publish)."""
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    decision = GateDecision(publish=True, tolerance=tolerance)
    if current is None:
        decision.reasons.append("no current bundle: the first one is published")
        return decision
    for name in gated:
        now, new = _get(current, name), _get(candidate, name)
        decision.compared[name] = (now, new)
        if new is None:
            decision.publish = False
            decision.reasons.append(f"{name}: the candidate has no value")
        elif now is not None and new < now * (1.0 - tolerance):
            decision.publish = False
            decision.reasons.append(f"{name}: {new:.4f} < {now:.4f} - {tolerance:.0%}")
        else:
            decision.reasons.append(f"{name}: {new:.4f} vs {now if now is None else round(now, 4)}: ok")
    return decision
