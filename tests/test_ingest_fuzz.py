"""Property-based fuzzing of every reader and the pipeline's validation (issue 16): whatever the bytes, an
ingest reads, validates and quarantines without a crash, every record is accepted or quarantined, and every
accepted row converts to the store's column types. Bounded and reproducible: derandomized, no example
database, a fixed number of examples per reader (a few seconds each).

A reader may refuse a whole source with :class:`kg.errors.ValidationError` only where the format is one
document (a JSON object, JSON-LD, Turtle) that does not parse; line formats never refuse a source for its
content.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.errors import ValidationError
from kg.ingest import bulk
from kg.ingest.pipeline import _Ingest
from kg.ingest.readers import READERS
from kg.ingest.report import IngestReport
from kg.progress import progress_bars
from kg.schema import NodeLabel, node_spec, rel_spec

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- values an attacker (or a broken exporter) puts in a field --------------------------------------------------
NASTY_TEXT = st.sampled_from(["", " ", "a\x00b", "\x00", "\ud800", "\x1f\x7f\x9f", "é" * 50, "DELETE", "<b>x</b>",
                              "&amp;#39;", "1e999", "NaN", "-1", "2020-01-01T00:00:00", "x" * 3000, "|a|b|"])
SCALARS = st.one_of(
    st.none(), st.booleans(), NASTY_TEXT, st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                          inner, max_size=3),
                      max_leaves=8)
ATTACK_LINES = st.sampled_from([
    "[" * 200_000 + "]" * 200_000,            # RecursionError in json
    '{"id": ' + "9" * 5000 + "}",             # ValueError: int digits limit
    '{"id": "p\\u0000", "title": "t"}',       # NUL in an id
    '{"id": "p", "title": "\\ud800"}',        # a lone surrogate
    '{"user_id": "u", "product_id": "p", "count": 18446744073709551616}',
    '{"user_id": "u", "product_id": "p", "ts": 9223372036854775808}',
    '{"user_id": "u", "product_id": "p", "ts": 1e999}',
    "\x00\x01\x02", "{", "[]", "null", '"text"', "1", "\ufeff{}",
])


def record_line(fields: list[str]) -> st.SearchStrategy[str]:
    """A JSON object line with (some of) the format's fields holding anything."""
    keys = st.sampled_from([*fields, "extra", "@id"])
    return st.dictionaries(keys, VALUES, max_size=len(fields) + 1).map(lambda d: json.dumps(d, allow_nan=True))


def lines(fields: list[str]) -> st.SearchStrategy[list[str]]:
    line = st.one_of(record_line(fields), ATTACK_LINES, st.text(max_size=40))
    return st.lists(line, max_size=6)


def as_bytes(rows: list[str]) -> bytes:
    return "\n".join(rows).encode("utf-8", errors="surrogatepass")


# -- running a source through the pipeline, without a store ------------------------------------------------------
class NoGraph:
    """The store as the reference check sees it: an empty graph."""

    def query(self, cypher: str, params: Any = None) -> list[dict[str, Any]]:
        return []


def run_pipeline(fmt: str, path: Path, *, whole_document: bool) -> None:
    reader = READERS[fmt](path)
    report = IngestReport(source=fmt, started_at=datetime.now(UTC).isoformat(), quarantine_path="", report_path="")
    with io.StringIO() as quarantine, progress_bars(False) as bars:
        run = _Ingest(reader, NoGraph(), quarantine, report, bars, 20_000)  # type: ignore[arg-type]
        try:
            run.read_all()
        except ValidationError:
            if whole_document:
                return
            raise
        run.check_references()
        stages = run.stages()
        run.quality(stages)
        for stage in stages:  # every accepted row converts to the store's column types (as COPY does)
            props = dict((node_spec(stage.target) if isinstance(stage.target, NodeLabel)
                          else rel_spec(stage.target)).properties)
            for name, prop_type in props.items():
                bulk._column(name, prop_type, stage.rows)
        run.finish_counts()
    assert report.invariant_violations() == []
    for stats in report.kinds.values():
        assert stats.accepted + stats.quarantined == stats.read


def fuzz_folder(write: Callable[[Path], Path], fmt: str, *, whole_document: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_pipeline(fmt, write(Path(tmp)), whole_document=whole_document)


# -- one property per reader ---------------------------------------------------------------------------------
PRODUCT_FIELDS = ["id", "title", "description", "price", "brand", "categories", "active", "source"]
EVENT_FIELDS = ["user_id", "product_id", "type", "ts", "seq", "rating", "count"]


@FUZZ
@given(products=lines(PRODUCT_FIELDS), users=lines(["id", "name", "source"]), events=lines(EVENT_FIELDS),
       links=lines(["src", "dst", "type"]), csv_rows=st.lists(st.text(max_size=40), max_size=5))
def test_cartograph_reader(products: list[str], users: list[str], events: list[str], links: list[str],
                           csv_rows: list[str]) -> None:
    def write(root: Path) -> Path:
        (root / "products.jsonl").write_bytes(as_bytes(products))
        (root / "users.csv").write_bytes(as_bytes(["id,name,source", *csv_rows, *users]))
        (root / "events.jsonl").write_bytes(as_bytes(events))
        (root / "links.jsonl").write_bytes(as_bytes(links))
        return root
    fuzz_folder(write, "cartograph")


META_2018 = ["asin", "title", "brand", "category", "description", "price", "also_buy", "also_view", "main_cat",
             "feature"]
REVIEW_2018 = ["reviewerID", "asin", "overall", "unixReviewTime", "reviewerName"]


@FUZZ
@given(meta=lines(META_2018), reviews=lines(REVIEW_2018), ratings=st.lists(st.text(max_size=40), max_size=5))
def test_amazon_2018_reader(meta: list[str], reviews: list[str], ratings: list[str]) -> None:
    def write(root: Path) -> Path:
        (root / "meta_Fuzz.json").write_bytes(as_bytes(meta))
        (root / "Fuzz.json").write_bytes(as_bytes(reviews))
        return root
    fuzz_folder(write, "amazon-2018")

    def write_csv(root: Path) -> Path:
        (root / "meta_Fuzz.json").write_bytes(as_bytes(meta))
        (root / "Fuzz.csv").write_bytes(as_bytes(ratings))
        return root
    fuzz_folder(write_csv, "amazon-2018")


META_2023 = ["parent_asin", "title", "main_category", "categories", "description", "features", "price",
             "details", "bought_together", "store"]
REVIEW_2023 = ["user_id", "parent_asin", "asin", "rating", "timestamp"]


@FUZZ
@given(meta=lines(META_2023), reviews=lines(REVIEW_2023))
def test_amazon_2023_reader(meta: list[str], reviews: list[str]) -> None:
    def write(root: Path) -> Path:
        (root / "meta_Fuzz.jsonl").write_bytes(as_bytes(meta))
        (root / "Fuzz.jsonl").write_bytes(as_bytes(reviews))
        return root
    fuzz_folder(write, "amazon-2023")


@FUZZ
@given(items=st.dictionaries(st.text(max_size=8), VALUES, max_size=5), raw_items=ATTACK_LINES | st.text(max_size=60),
       windows=st.lists(st.one_of(st.text(max_size=40), st.builds(
           lambda u, h, t: f'{u},"{h}",{t}', st.text(max_size=5), st.lists(st.integers(-5, 10**30)).map(str),
           st.integers(-5, 99))), max_size=6),
       use_raw=st.booleans())
def test_amazon_index_reader(items: dict[str, Any], raw_items: str, windows: list[str], use_raw: bool) -> None:
    def write(root: Path) -> Path:
        text = raw_items if use_raw else json.dumps(items, allow_nan=True)
        (root / "Fuzz.item.json").write_bytes(text.encode("utf-8", errors="surrogatepass"))
        (root / "Fuzz.valid.csv").write_bytes(as_bytes(["user_id,history_item_id,item_id", *windows]))
        return root
    fuzz_folder(write, "amazon-index", whole_document=True)


@FUZZ
@given(users=st.dictionaries(st.text("0123456789", min_size=1, max_size=3), NASTY_TEXT, max_size=4),
       items=st.dictionaries(st.text("0123456789", min_size=1, max_size=3), NASTY_TEXT, max_size=4),
       sequences=st.lists(st.one_of(st.text(max_size=30), ATTACK_LINES,
                                    st.lists(st.text("0123456789 ", max_size=4), max_size=5).map(" ".join)),
                          max_size=6),
       titles=st.lists(st.text(max_size=40), max_size=4))
def test_amazon_beauty_reader(users: dict[str, str], items: dict[str, str], sequences: list[str],
                              titles: list[str]) -> None:
    def write(root: Path) -> Path:
        (root / "p5").mkdir()
        (root / "s3rec").mkdir()
        (root / "idgenrec").mkdir()
        (root / "p5" / "datamaps.json").write_text(json.dumps({"id2user": users, "id2item": items}))
        (root / "s3rec" / "Beauty.txt").write_bytes(as_bytes(sequences))
        (root / "idgenrec" / "item_generative_indexing_phase_0.txt").write_bytes(as_bytes(titles))
        return root
    fuzz_folder(write, "amazon-beauty", whole_document=True)


@FUZZ
@given(products=st.lists(st.dictionaries(
    st.sampled_from(["@id", "@type", "name", "description", "productID", "sku", "brand", "category", "offers"]),
    VALUES, max_size=6), max_size=4))
def test_json_ld_reader(products: list[dict[str, Any]]) -> None:
    def write(root: Path) -> Path:
        graph = [{"@type": "Product", **p} for p in products]
        document = {"@context": "https://schema.org/", "@graph": graph}
        path = root / "catalog.jsonld"
        path.write_bytes(json.dumps(document, allow_nan=True).encode("utf-8", errors="surrogatepass"))
        return path
    fuzz_folder(write, "jsonld", whole_document=True)


@FUZZ
@given(names=st.lists(st.text(max_size=20), max_size=3), prices=st.lists(st.text(max_size=12), max_size=3),
       junk=st.text(max_size=30))
def test_turtle_reader(names: list[str], prices: list[str], junk: str) -> None:
    def write(root: Path) -> Path:
        pairs = enumerate(zip(names, prices, strict=False))
        body = "".join(f'<http://x/p{i}> a schema:Product ; schema:name {json.dumps(n)} ; schema:offers '
                       f'[ schema:price {json.dumps(p)} ] .\n' for i, (n, p) in pairs)
        path = root / "catalog.ttl"
        path.write_bytes(("@prefix schema: <https://schema.org/> .\n" + body + junk)
                         .encode("utf-8", errors="surrogatepass"))
        return path
    fuzz_folder(write, "turtle", whole_document=True)


def test_every_reader_is_fuzzed() -> None:
    fuzzed = {"cartograph", "amazon-2018", "amazon-2023", "amazon-index", "amazon-beauty", "jsonld", "turtle"}
    assert set(READERS) - {"amazon-office"} == fuzzed  # amazon-office is amazon-index's former name


@pytest.mark.parametrize("fmt", ["cartograph"])
def test_the_fuzz_harness_catches_a_crash(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is not vacuous: a reader that raises is reported as a failure."""
    import kg.ingest.readers.base as base

    def explode(text: str) -> Any:
        raise RecursionError("boom")

    monkeypatch.setattr(base, "parse_json", explode)
    monkeypatch.setattr("kg.ingest.readers.cartograph.parse_json", explode)
    with pytest.raises(RecursionError):
        fuzz_folder(lambda root: (root / "products.jsonl").write_text('{"id": "p"}') and root, fmt)
