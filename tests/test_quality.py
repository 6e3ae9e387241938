"""Data quality: markup and placeholder titles, fields absent from the catalog, duplicates, odd values; in the
ingest report and in ``cartograph info``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartograph.cli import app
from kg.ingest.quality import (
    DUPLICATE_TITLES,
    HIGH_PRICES,
    MARKUP_TITLES,
    ZERO_PRICES,
    assess,
    is_markup_or_placeholder,
    quality_lines,
)


@pytest.mark.parametrize("title", ['Industrial & Scientific" />', "<span class='a'>x</span>", "N/A", "null",
                                   "12345", "&lt;b&gt;Pen", ".a-box{display:none}"])
def test_markup_or_placeholder_titles(title: str) -> None:
    assert is_markup_or_placeholder(title)


@pytest.mark.parametrize("title", ["Pilot G2 Gel Pen, 0.7mm", "3M 8979 Tape", 'Caliper 6" Digital'])
def test_real_titles_pass(title: str) -> None:
    assert not is_markup_or_placeholder(title)


def test_assess_counts_and_examples() -> None:
    q = assess([
        {"id": "a", "title": "Pen", "price": 0.0, "brand": "pilot", "categories": 0},
        {"id": "b", "title": "pen", "price": 250_000.0, "brand": None, "categories": 0},
        {"id": "c", "title": 'Office Products" />', "price": None, "brand": None, "categories": 0},
    ])
    assert q.products == 3
    assert q.coverage == {"title": 3, "description": 0, "price": 2, "brand": 1, "category": 0}
    assert q.absent_fields == ["description", "category"]
    assert q.findings[MARKUP_TITLES].examples == ['c: Office Products" />']
    assert q.findings[DUPLICATE_TITLES].count == 2
    assert q.findings[ZERO_PRICES].count == 1 and q.findings[HIGH_PRICES].count == 1
    assert any("no product has a description, category" in line for line in quality_lines(q))


def test_ingest_report_and_info_show_the_quality(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARTOGRAPH_NEO4J_URI", raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    products = [{"id": "p1", "title": "Gel Pen", "brand": "Pilot"},
                {"id": "p2", "title": 'Office Products" />', "brand": "Pilot"},
                {"id": "p3", "title": "Gel Pen"}]
    (tmp_path / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products))
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(tmp_path / "products.jsonl"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "data quality" in result.output and "no product has a description, price, category" in result.output
    report = json.loads(next((tmp_path / "home" / "ingest").glob("*/report.json")).read_text())
    assert report["quality"]["findings"][MARKUP_TITLES]["count"] == 1
    assert report["quality"]["absent_fields"] == ["description", "price", "category"]
    info = runner.invoke(app, ["info", "--json"])
    assert info.exit_code == 0, info.output
    quality = json.loads(info.stdout)["quality"]
    assert quality["products"] == 3 and quality["coverage"]["brand"] == 2
    assert quality["findings"][DUPLICATE_TITLES]["count"] == 2
