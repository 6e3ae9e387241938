"""The bad inputs of issue 16, one test each, through `run_ingest` into the embedded store: every one is
quarantined with its reason or handled as documented, the ingest finishes, accepted + quarantined == read, and
a failure part-way through the load publishes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from test_ingest import assert_accounted, jsonl, quarantined, write

import kg.ingest.readers.base as base
from kg.config import Settings
from kg.errors import IngestAbortedError
from kg.ingest import bulk, staging
from kg.ingest.cleaning import MAX_RAW_TITLE_CHARS, MAX_TITLE_CHARS
from kg.ingest.pipeline import dump_graph
from kg.ingest.readers import open_reader
from kg.ingest.records import INT64_MAX
from kg.ingest.report import IngestReport
from kg.ingest.run import run_ingest
from kg.store import open_store

PRODUCTS = [{"id": "p1", "title": "Stapler", "brand": "Acme"}, {"id": "p2", "title": "Pen"}]
DEEP = "[" * 200_000 + "]" * 200_000
HUGE_NUMBER = '{"id": "p9", "price": ' + "9" * 5000 + "}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_backend="embedded", home=tmp_path / "home", neo4j_uri=None)


def ingest_files(settings: Settings, folder: Path, files: dict[str, str | bytes]) -> IngestReport:
    report = run_ingest(settings, write(folder, files), progress=False).report
    assert_accounted(report)
    return report


def graph(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with open_store(settings, read_only=True) as store:
        return dump_graph(store)


def reasons(report: IngestReport) -> dict[str, str]:
    return {e["location"]: e["reason"] for e in quarantined(report)}


def test_counts_and_times_beyond_int64_are_quarantined_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    events = [{"user_id": "u1", "product_id": "p1", "count": 2**64},
              {"user_id": "u1", "product_id": "p2", "ts": 2**63},
              {"user_id": "u2", "product_id": "p1", "seq": 2**64},
              {"user_id": "u2", "product_id": "p2", "ts": INT64_MAX, "count": INT64_MAX}]
    report = ingest_files(settings, tmp_path / "cat", {"products.jsonl": jsonl(PRODUCTS), "events.jsonl": jsonl(events),
                                                       "users.jsonl": jsonl([{"id": "u1"}, {"id": "u2"}])})
    found = reasons(report)
    assert sorted(found) == ["events.jsonl:1", "events.jsonl:2", "events.jsonl:3"]
    assert found["events.jsonl:1"].startswith("count: Input should be less than or equal to 9223372036854775807")
    assert found["events.jsonl:2"].startswith("ts: Input should be less than or equal to 9223372036854775807")
    assert report.load_method == "copy"
    with open_store(settings, read_only=True) as store:
        rows = store.query("MATCH (:User {id: 'u2'})-[r:PURCHASED]->(:Product {id: 'p2'}) RETURN r.ts AS ts, "
                           "r.count AS n")
    assert rows == [{"ts": INT64_MAX, "n": INT64_MAX}]  # the largest value the store holds goes in whole


@pytest.mark.parametrize(("line", "reason"), [
    (DEEP, "invalid JSON: nested too deeply to parse"),
    (HUGE_NUMBER, "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"),
])
def test_json_the_parser_cannot_take_costs_one_record(settings: Settings, tmp_path: Path, line: str,
                                                      reason: str) -> None:
    products = jsonl(PRODUCTS[:1]) + line + "\n" + jsonl(PRODUCTS[1:])
    report = ingest_files(settings, tmp_path / "cat", {"products.jsonl": products})
    assert reasons(report)["products.jsonl:2"].startswith(reason)
    assert report.kinds["product"].accepted == 2
    assert len(quarantined(report)[0]["record"]["raw"]) <= base.MAX_RAW_CHARS  # no second copy of the line


@pytest.mark.parametrize("fmt", ["amazon-2018", "amazon-2023", "amazon-index"])
@pytest.mark.parametrize("bad", [DEEP, HUGE_NUMBER.replace('"id": "p9", ', "")])
def test_every_json_reader_quarantines_unparseable_json(fmt: str, bad: str, tmp_path: Path) -> None:
    good = {"asin": "A1", "parent_asin": "A1", "title": "Stapler"}
    if fmt == "amazon-index":
        text = '{\n  "1": {"title": "Stapler"},\n  "2": {"title": ' + bad + '}\n}'
        write(tmp_path, {"Fuzz.item.json": text})
    else:
        name = "meta_Fuzz.json" if fmt == "amazon-2018" else "meta_Fuzz.jsonl"
        write(tmp_path, {name: json.dumps(good) + "\n" + bad + "\n"})
    records = list(open_reader(tmp_path, fmt).read())
    broken = [r for r in records if r.error]
    assert len(broken) == 1 and "JSON" in (broken[0].error or "")
    assert any(r.kind == "product" and not r.error for r in records)


def test_control_characters_in_ids_are_refused_and_stripped_from_names(settings: Settings, tmp_path: Path) -> None:
    products = [{"id": "p\x001", "title": "NUL in the id"}, {"id": "p2", "title": "Pen\x00", "brand": "Ac\x00me"},
                {"id": "p3\x1b", "title": "escape in the id"}]
    users = [{"id": "u1", "name": "Ann\x00 Smith\x07"}]
    report = ingest_files(settings, tmp_path / "cat", {"products.jsonl": jsonl(products), "users.jsonl": jsonl(users)})
    found = reasons(report)
    assert found["products.jsonl:1"].startswith("id: Value error, contains control character U+0000 at index 1")
    assert found["products.jsonl:3"].startswith("id: Value error, contains control character U+001B")
    dump = json.dumps(graph(settings))
    assert "\\u0000" not in dump and "\\u0007" not in dump
    with open_store(settings, read_only=True) as store:
        assert store.query("MATCH (u:User) RETURN u.name AS n") == [{"n": "Ann Smith"}]
        assert store.query("MATCH (b:Brand) RETURN b.name AS n") == [{"n": "Acme"}]


def test_a_one_megabyte_title_keeps_no_megabyte_raw_copy(settings: Settings, tmp_path: Path) -> None:
    title = "<b>Stapler</b> " * 70_000
    assert len(title) > 1_000_000
    report = ingest_files(settings, tmp_path / "cat", {"products.jsonl": jsonl([{"id": "p1", "title": title}])})
    assert report.cleaning == {"titles changed by cleaning (raw kept)": 1, "titles truncated": 1,
                               f"raw titles truncated to {MAX_RAW_TITLE_CHARS} chars": 1}
    with open_store(settings, read_only=True) as store:
        row = store.query("MATCH (p:Product) RETURN p.title AS t, p.title_raw AS raw")[0]
    assert len(row["t"]) <= MAX_TITLE_CHARS and row["raw"] == title[:MAX_RAW_TITLE_CHARS]


def test_a_huge_single_line_costs_one_record_and_bounded_memory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_LINE_BYTES", 1 << 20)
    line = '{"id": "big", "title": "' + "x" * (64 << 20) + '"}'  # 64 MiB on one line, then a good record
    folder = write(tmp_path / "cat", {"products.jsonl": line + "\n" + jsonl(PRODUCTS[:1])})
    tracemalloc.start()
    try:
        records = list(open_reader(folder, "cartograph").read())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"reading held {peak} bytes"  # the cap and a chunk, not the 64 MiB line
    assert [(r.location, r.error) for r in records if r.kind == "product"] == [
        ("products.jsonl:1", f"line too long: {len(line) + 1} bytes, the limit is {1 << 20} (line skipped)"),
        ("products.jsonl:2", None)]


def test_a_failure_part_way_through_the_load_publishes_nothing(settings: Settings, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_files(settings, tmp_path / "v1", {"products.jsonl": jsonl(PRODUCTS[:1])})
    before = graph(settings)
    calls = []

    def failing_copy(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        if len(calls) > 1:
            raise RuntimeError("disk full")
        return real_copy(*args, **kwargs)

    real_copy = bulk.copy_rows
    monkeypatch.setattr(bulk, "copy_rows", failing_copy)
    settings_empty = Settings(store_backend="embedded", home=tmp_path / "empty", neo4j_uri=None)
    with pytest.raises(RuntimeError, match="disk full"):
        run_ingest(settings_empty, write(tmp_path / "v2", {"products.jsonl": jsonl(PRODUCTS)}), progress=False)
    assert not staging.staging_path(settings_empty.embedded_path).exists()
    with open_store(settings_empty, read_only=True) as store:  # nothing published: an empty file, not half a graph
        assert store.query("CALL show_tables() RETURN *") == []
    assert graph(settings) == before


def test_no_other_writer_gets_the_live_graph_while_an_ingest_is_staged(settings: Settings, tmp_path: Path) -> None:
    ingest_files(settings, tmp_path / "v1", {"products.jsonl": jsonl(PRODUCTS[:1])})
    # another process (the API) opening the graph to write
    writer = "import sys, ladybug; ladybug.Connection(ladybug.Database(sys.argv[1])).execute('RETURN 1')"
    with staging.staged(settings) as target:
        with open_store(target) as store:
            store.query("MATCH (p:Product) SET p.title = 'staged'")
        refused = subprocess.run([sys.executable, "-c", writer, str(settings.embedded_path)], capture_output=True,
                                 text=True, timeout=120, check=False)
        assert refused.returncode != 0 and "lock" in refused.stderr  # so the API spools its event instead
    with open_store(settings, read_only=True) as store:
        assert store.query("MATCH (p:Product) RETURN p.title AS t") == [{"t": "staged"}]
    assert not staging.staging_path(settings.embedded_path).exists()


def test_the_publish_refuses_when_the_live_file_changed_meanwhile(settings: Settings, tmp_path: Path) -> None:
    ingest_files(settings, tmp_path / "v1", {"products.jsonl": jsonl(PRODUCTS[:1])})
    before = graph(settings)
    with pytest.raises(IngestAbortedError, match="changed while the ingest was staged"):  # noqa: SIM117
        with staging.staged(settings) as target:
            with open_store(target) as store:
                store.query("MATCH (p:Product) SET p.title = 'staged'")
            settings.embedded_path.touch()  # a change behind the engine's lock (another tool, a restore)
    assert graph(settings) == before
    assert not staging.staging_path(settings.embedded_path).exists()
