"""The labelling aid of the judged queries (bench/search_label.py): a re-pooling round hides controls among the
new pairs, ``add`` keeps every judged grade frozen and scores the controls, Cohen's kappa on a hand-computed case."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kg.config import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import search_label  # noqa: E402


def _pool(path: Path, products: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    with path.open("w", encoding="utf-8") as f:
        for qid, ids in products.items():
            f.write(json.dumps({"query": {"id": qid, "text": qid, "kind": "type", "band": "head"},
                                "products": [{"id": p} for p in ids]}) + "\n")
    return search_label._pool(path)


def test_cohen_kappa_on_a_hand_computed_case() -> None:
    # 10 items: 8 agree. First grader E 6, I 4; second E 6, I 4 -> chance agreement 0.6*0.6 + 0.4*0.4 = 0.52;
    # kappa = (0.8 - 0.52) / (1 - 0.52) = 0.5833.
    pairs = [("E", "E")] * 5 + [("I", "I")] * 3 + [("E", "I"), ("I", "E")]
    assert search_label.cohen_kappa(pairs) == pytest.approx(0.28 / 0.48)
    assert search_label.cohen_kappa([("E", "E")] * 3) == 1.0  # both constant and equal


def test_a_round_shows_new_pairs_among_controls_and_add_keeps_judged_grades(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    qrels = tmp_path / "qrels.jsonl"
    qrels.write_text("".join(json.dumps({"query_id": "q1", "product_id": p, "label": g}) + "\n"
                             for p, g in (("a", "E"), ("b", "S"), ("c", "I"), ("d", "E"))), encoding="utf-8")
    monkeypatch.setattr(search_label, "QRELS", qrels)
    pool = _pool(tmp_path / "pool.jsonl", {"q1": ["a", "b", "c", "d", "x", "y"], "q2": ["a"], "q3": ["z"]})
    search_label.make_round(pool, tmp_path / "round.jsonl", seed=1)
    shown = search_label._pool(tmp_path / "round.jsonl")
    # q1: both new products and one control (a quarter of 2, at least 1); q2, q3: new, with nothing judged to mix in
    # (a grade belongs to a query: "a" judged for q1 is new for q2)
    ids = [p["id"] for p in shown["q1"]["products"]]
    assert set(ids) >= {"x", "y"} and len(ids) == 3 and set(ids) - {"x", "y"} <= {"a", "b", "c", "d"}
    assert [p["id"] for p in shown["q2"]["products"]] == ["a"] and [p["id"] for p in shown["q3"]["products"]] == ["z"]

    control = next(p for p in ids if p not in ("x", "y"))
    frozen = {"a": "E", "b": "S", "c": "I", "d": "E"}[control]
    wrong = "C" if frozen != "C" else "I"
    grades = tmp_path / "grades.txt"
    grades.write_text("q1 " + "".join({"x": "E", "y": "S", control: wrong}[p] for p in ids) + "\nq3 I\n",
                      encoding="utf-8")
    assert search_label.add(shown, grades) == 0
    rows = [json.loads(line) for line in qrels.read_text(encoding="utf-8").splitlines()]
    new = sorted((("x", "E"), ("y", "S")), key=lambda t: ids.index(t[0]))
    assert len(rows) == 7 and rows[-3:] == [{"query_id": "q1", "product_id": p, "label": g} for p, g in new] + \
        [{"query_id": "q3", "product_id": "z", "label": "I"}]
    assert {(r["product_id"], r["label"]) for r in rows[:4]} == {("a", "E"), ("b", "S"), ("c", "I"), ("d", "E")}
    assert "controls: 1 judged pairs graded again, agreement 0.000" in capsys.readouterr().out


def test_add_refuses_a_line_that_does_not_match_the_pool(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_label, "QRELS", tmp_path / "qrels.jsonl")
    pool = _pool(tmp_path / "pool.jsonl", {"q1": ["a", "b"]})
    grades = tmp_path / "grades.txt"
    for line in ("q1 E", "q1 EX"):
        grades.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(SystemExit, match="2 candidates"):
            search_label.add(pool, grades)
    assert not (tmp_path / "qrels.jsonl").exists()
