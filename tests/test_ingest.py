"""The ingest pipeline on real malformed files written in tmp_path: every bad record is quarantined with its
reason, every record is accounted for (accepted + quarantined == read, per kind), a re-run changes nothing,
the bulk path and the upsert path give the same graph, and the CLI wraps it all."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cartograph.cli import app
from kg.config import PROJECT_ROOT, Settings, load_settings
from kg.ingest.cleaning import MAX_RAW_DESCRIPTION_CHARS
from kg.ingest.pipeline import dump_graph, ingest
from kg.ingest.readers.cartograph import CartographReader
from kg.ingest.records import RecordKind
from kg.ingest.report import IngestReport
from kg.ingest.run import run_ingest
from kg.queries import QueryLibrary
from kg.store import GraphStore
from kg.store.embedded import EmbeddedStore

P, U, INTER, L = RecordKind.PRODUCT, RecordKind.USER, RecordKind.INTERACTION, RecordKind.LINK
PRODUCTS: list[dict[str, Any]] = [
    {"id": "p1", "title": "Sedu ionic ceramic flat iron", "description": "<p>Tourmaline &amp; ceramic</p>",
     "price": 59.5, "brand": "Sedu", "categories": ["Hair Care", "Styling Tools"], "active": True},
    {"id": "p2", "title": "HP 74 black ink", "price": 19.99, "brand": "HP", "categories": ["Ink"]},
    {"id": "p3", "title": "Avery CD labels", "brand": "Avery"},
]
USERS: list[dict[str, Any]] = [{"id": "u1", "name": "Ann"}, {"id": "u2"}]
EVENTS: list[dict[str, Any]] = [
    {"user_id": "u1", "product_id": "p1", "type": "purchase", "ts": "2014-03-01T10:00:00Z", "seq": 0},
    {"user_id": "u1", "product_id": "p2", "type": "rating", "ts": 1393668000, "rating": 4.5},
    {"user_id": "u2", "product_id": "p3", "type": "view", "seq": 0, "count": 3},
]
LINKS: list[dict[str, Any]] = [{"src": "p1", "dst": "p2", "type": "also_bought"},
                               {"src": "p2", "dst": "p3", "type": "bought_together"}]


def jsonl(rows: Sequence[Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def write(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder


def good_catalog(folder: Path) -> Path:
    return write(folder, {"products.jsonl": jsonl(PRODUCTS), "users.jsonl": jsonl(USERS),
                          "events.jsonl": jsonl(EVENTS), "links.jsonl": jsonl(LINKS)})


def quarantined(report: IngestReport) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(report.quarantine_path).read_text(encoding="utf-8").splitlines()]


def assert_accounted(report: IngestReport) -> None:
    """The invariant, per kind, plus: the quarantine file has exactly one line per quarantined record."""
    for kind, s in report.kinds.items():
        assert s.accepted + s.quarantined == s.read, kind
    assert len(quarantined(report)) == report.quarantined
    assert sum(report.quarantine_reasons.values()) == report.quarantined


def load_into(store: GraphStore, folder: Path, out: Path, **kw: Any) -> IngestReport:
    """Ingest a catalog folder with the Cartograph reader; check the invariant and the saved report."""
    report = ingest(CartographReader(folder), store, quarantine_path=out / "q.jsonl",
                    report_path=out / "report.json", progress=False, **kw)
    assert_accounted(report)
    assert IngestReport.model_validate_json((out / "report.json").read_text()) == report
    return report


@pytest.fixture
def load(store: GraphStore, tmp_path: Path) -> Callable[..., IngestReport]:
    """``load(folder, **kw)``: ingest into the test store (every backend); each run gets its own out folder."""
    runs = iter(range(1000))
    return lambda folder, **kw: load_into(store, folder, tmp_path / f"run{next(runs)}", **kw)


@pytest.fixture
def fresh_embedded(tmp_path: Path) -> Iterator[Callable[[], EmbeddedStore]]:
    """Empty embedded stores (the bulk path exists only there)."""
    opened: list[EmbeddedStore] = []

    def make() -> EmbeddedStore:
        store = EmbeddedStore(tmp_path / f"fresh{len(opened)}" / "g.kuzu", QueryLibrary(PROJECT_ROOT / "cypher"))
        store.init_schema()
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


def one(store: GraphStore, cypher: str, **params: Any) -> dict[str, Any]:
    rows = store.query(cypher, params)
    assert len(rows) == 1, rows
    return rows[0]


# -- a clean catalog -------------------------------------------------------------------------------------
def test_clean_catalog_loads_every_record_with_its_edges(store: GraphStore, load: Any, tmp_path: Path) -> None:
    report = load(good_catalog(tmp_path / "cat"))
    counts = {k.value: (s.read, s.accepted, s.quarantined, s.upserted) for k, s in report.kinds.items() if s.read}
    assert counts == {"product": (3, 3, 0, 3), "brand": (3, 3, 0, 3), "category": (3, 3, 0, 3),
                      "user": (2, 2, 0, 2), "interaction": (3, 3, 0, 3), "link": (2, 2, 0, 2)}
    rels = {k: v for k, v in store.count_relationships().items() if v}
    assert rels == {"PURCHASED": 1, "RATED": 1, "VIEWED": 1, "MADE_BY": 3, "IN_CATEGORY": 3, "ALSO_BOUGHT": 1,
                    "BOUGHT_TOGETHER": 1}
    p1 = one(store, "MATCH (p:Product {id: 'p1'})-[:MADE_BY]->(b:Brand) RETURN p.description AS d, "
                    "p.description_raw AS raw, p.title_raw AS title_raw, p.text_hash AS h, b.name AS brand")
    assert p1["d"] == "Tourmaline & ceramic" and p1["raw"] == PRODUCTS[0]["description"]
    assert p1["title_raw"] is None and len(p1["h"]) == 64 and p1["brand"] == "Sedu"
    purchase = one(store, "MATCH (:User {id: 'u1'})-[r:PURCHASED]->(:Product {id: 'p1'}) RETURN r.ts AS ts, "
                          "r.seq AS seq, r.count AS count")
    assert purchase == {"ts": 1393668000, "seq": 0, "count": 1}  # the ISO time as epoch seconds
    assert one(store, "MATCH (:User)-[r:RATED]->(:Product) RETURN r.rating AS r")["r"] == 4.5
    assert report.quarantined == 0 and report.cleaning == {"descriptions changed by cleaning (raw kept)": 1}


def test_csv_catalog_with_quoted_newlines_and_list_columns(store: GraphStore, load: Any, tmp_path: Path) -> None:
    folder = write(tmp_path / "csv", {
        "products.csv": 'id,title,description,price,brand,categories\n'
                        'p1,Flat iron,"Line one\nline two",59.5,Sedu,Hair Care|Styling Tools\n\n'
                        'p2,Ink,,,HP,\n',
        "users.csv": "id,name\nu1,Ann\n",
        "events.csv": "user_id,product_id,type,ts,seq,rating,count\nu1,p2,purchase,2014-03-01,0,,2\n",
        "links.csv": "src,dst,type\np1,p2,also_viewed\n",
    })
    report = load(folder)
    assert report.quarantined == 0 and report.kinds[P].accepted == 2
    p1 = one(store, "MATCH (p:Product {id: 'p1'}) RETURN p.description AS d, p.price AS price")
    assert p1 == {"d": "Line one\nline two", "price": 59.5}
    assert store.count_relationships()["IN_CATEGORY"] == 2 and store.count_relationships()["ALSO_VIEWED"] == 1
    edge = one(store, "MATCH (:User)-[r:PURCHASED]->(:Product) RETURN r.ts AS ts, r.count AS c, r.rating AS rating")
    assert edge == {"ts": 1393632000, "c": 2, "rating": None}


# -- bad input -------------------------------------------------------------------------------------------
def test_empty_files_load_nothing_and_fail_nothing(store: GraphStore, load: Any, tmp_path: Path) -> None:
    folder = write(tmp_path / "empty", {"products.jsonl": "", "users.csv": "", "events.jsonl": "\n  \n\n",
                                        "links.csv": "src,dst,type\n"})
    report = load(folder)
    assert report.read == 0 and report.load_method == "none" and quarantined(report) == []
    assert set(store.count_nodes().values()) == {0}


def test_truncated_json_line_is_quarantined_with_its_line(load: Any, tmp_path: Path) -> None:
    text = jsonl(PRODUCTS[:2]) + '{"id": "p3", "title": "Avery CD lab'  # the file was cut mid-record
    report = load(write(tmp_path / "cat", {"products.jsonl": text}))
    assert (report.kinds[P].read, report.kinds[P].accepted, report.kinds[P].quarantined) == (3, 2, 1)
    [entry] = quarantined(report)
    assert entry["kind"] == "product" and entry["location"] == "products.jsonl:3"
    assert entry["reason"] == "invalid JSON: Unterminated string starting at (column 23)"
    assert entry["record"] == {"raw": '{"id": "p3", "title": "Avery CD lab'}
    assert report.quarantine_reasons == {"invalid JSON": 1}


def test_wrong_types_name_the_field_the_expectation_and_the_value(load: Any, tmp_path: Path) -> None:
    bad_products = [{"id": "b1", "price": "cheap"}, {"id": "b2", "price": -3}, {"id": "b3", "active": "maybe"},
                    {"id": "b4", "title": 12}, {"id": "b5", "brand": ["HP"]}, ["not", "an", "object"]]
    bad_events = [{"user_id": "u1", "product_id": "p1", "count": 0}, {"user_id": "u1", "product_id": "p1", "rating": 7},
                  {"user_id": "u1", "product_id": "p1", "ts": "yesterday"}, {"user_id": "u1", "product_id": "p1",
                                                                               "type": "click"}]
    report = load(write(tmp_path / "cat", {"products.jsonl": jsonl(PRODUCTS + bad_products),
                                           "users.jsonl": jsonl(USERS), "events.jsonl": jsonl(bad_events)}))
    reasons = {e["location"]: e["reason"] for e in quarantined(report)}
    assert reasons == {
        "products.jsonl:4": "price: Input should be a valid number, unable to parse string as a number, "
                            "got str 'cheap'",
        "products.jsonl:5": "price: Input should be greater than or equal to 0, got int -3",
        "products.jsonl:6": "active: Input should be a valid boolean, unable to interpret input, got str 'maybe'",
        "products.jsonl:7": "title: Input should be a valid string, got int 12",
        "products.jsonl:8": "brand must be a name and categories a list of names, got {'brand': ['HP'], "
                            "'categories': None}",
        "products.jsonl:9": "invalid JSON: expected an object, got list",
        "events.jsonl:1": "count: Input should be greater than or equal to 1, got int 0",
        "events.jsonl:2": "rating: Input should be less than or equal to 5, got int 7",
        "events.jsonl:3": "ts: Input should be a valid integer, unable to parse string as an integer, "
                          "got str 'yesterday'",
        "events.jsonl:4": "kind: Input should be 'purchase', 'view' or 'rating', got str 'click'",
    }
    assert (report.kinds[P].accepted, report.kinds[INTER].accepted) == (3, 0)


def test_missing_ids_are_quarantined(load: Any, tmp_path: Path) -> None:
    files = {"products.jsonl": jsonl([{"title": "no id"}, {"id": "", "title": "empty id"}, {"id": "ok"}]),
             "users.csv": "id,name\n,Nobody\nu1,Ann\n",
             "events.jsonl": jsonl([{"user_id": "u1"}]),
             "links.jsonl": jsonl([{"src": "ok", "type": "also_bought"}])}
    report = load(write(tmp_path / "cat", files))
    reasons = [(e["location"], e["reason"]) for e in quarantined(report)]
    assert reasons == [
        ("products.jsonl:1", "id: Field required"),
        ("products.jsonl:2", "id: String should have at least 1 character, got str ''"),
        ("users.csv:2", "id: Field required"),
        ("events.jsonl:1", "product_id: Field required"),
        ("links.jsonl:1", "dst: Field required"),
    ]
    assert {k.value: s.accepted for k, s in report.kinds.items() if s.read} == {
        "product": 1, "user": 1, "interaction": 0, "link": 0}


def test_non_utf8_bytes_cost_one_record_each(store: GraphStore, load: Any, tmp_path: Path) -> None:
    latin1 = b'{"id": "p9", "title": "Cr\xe8me br\xfbl\xe9e"}\n'
    products = jsonl(PRODUCTS[:1]).encode() + latin1 + jsonl(PRODUCTS[1:]).encode()
    users = b'id,name\nu1,"Ann\nSmith"\nu2,Jos\xe9\nu3,\xc3\xa9lo\xc3\xafse\n'  # latin-1 in row 3, UTF-8 in row 4
    report = load(write(tmp_path / "cat", {"products.jsonl": products, "users.csv": users}))
    entries = quarantined(report)
    assert [(e["location"], e["reason"]) for e in entries] == [
        ("products.jsonl:2", "not valid UTF-8: invalid continuation byte"),
        ("users.csv:4", "not valid UTF-8: unexpected end of data"),
    ]
    assert entries[0]["record"]["raw"].startswith('{"id": "p9", "title": "Cr')
    assert (report.kinds[P].accepted, report.kinds[U].accepted) == (3, 2)
    assert one(store, "MATCH (u:User {id: 'u3'}) RETURN u.name AS n")["n"] == "éloïse"
    assert one(store, "MATCH (u:User {id: 'u1'}) RETURN u.name AS n")["n"] == "Ann\nSmith"


def test_one_megabyte_description_is_truncated_and_reported(store: GraphStore, load: Any, tmp_path: Path) -> None:
    huge = "<div>" + "Refill pack for the office stapler. " * 30_000 + "</div>"
    assert len(huge) > 1_000_000
    report = load(write(tmp_path / "cat", {"products.jsonl": jsonl([{"id": "big", "description": huge}])}),
                  max_description_chars=20_000)
    assert report.kinds[P].accepted == 1
    assert report.cleaning["descriptions truncated to 20000 chars"] == 1
    row = one(store, "MATCH (p:Product {id: 'big'}) RETURN p.description AS d, p.description_raw AS raw")
    assert len(row["d"]) <= 20_000 and row["d"].endswith("…") and row["d"].startswith("Refill pack")
    # the raw copy is kept for redoing cleaning, capped: a 1 MB accident does not get a second 1 MB copy
    assert row["raw"] == huge[:MAX_RAW_DESCRIPTION_CHARS]
    assert report.cleaning[f"raw descriptions truncated to {MAX_RAW_DESCRIPTION_CHARS} chars"] == 1


def test_unknown_columns_are_dropped_and_counted_not_quarantined(store: GraphStore, load: Any, tmp_path: Path) -> None:
    files = {"products.csv": "id,title,colour,price\np1,Pen,red,1.5\np2,Pencil,,0.5\np3,Ink,blue,9\n",
             "users.jsonl": jsonl([{"id": "u1", "age": 31, "city": "Lyon"}, {"id": "u2", "age": 40}])}
    report = load(write(tmp_path / "cat", files))
    assert report.quarantined == 0 and report.kinds[P].accepted == 3 and report.kinds[U].accepted == 2
    assert report.reader_notes == {"unknown column 'colour' in products.csv (ignored)": 2,
                                   "unknown key 'age' in users.jsonl (ignored)": 2,
                                   "unknown key 'city' in users.jsonl (ignored)": 1}
    assert one(store, "MATCH (p:Product {id: 'p1'}) RETURN p.price AS price")["price"] == 1.5


def test_duplicates_identical_are_accepted_conflicting_are_quarantined(
    store: GraphStore, load: Any, tmp_path: Path
) -> None:
    products = [*PRODUCTS, PRODUCTS[1], {**PRODUCTS[2], "title": "Avery DVD labels", "price": 3.0}]
    events = [*EVENTS, EVENTS[0],  # the same event delivered twice
              {"user_id": "u2", "product_id": "p3", "type": "view", "seq": 4, "count": 1},  # viewed again later
              EVENTS[2]]  # a duplicate of an event that was merged with another one: still a duplicate
    report = load(write(tmp_path / "cat", {"products.jsonl": jsonl(products), "users.jsonl": jsonl(USERS),
                                           "events.jsonl": jsonl(events)}))
    p, i = report.kinds[P], report.kinds[INTER]
    assert (p.read, p.accepted, p.duplicates, p.quarantined, p.upserted) == (5, 4, 1, 1, 3)
    assert (i.read, i.accepted, i.duplicates, i.merged, i.upserted) == (6, 6, 2, 1, 3)
    [entry] = quarantined(report)
    assert entry["location"] == "products.jsonl:5"
    assert entry["reason"] == ("duplicate product 'p3' conflicts with the record at products.jsonl:3: "
                               "title, price differ")
    assert one(store, "MATCH (p:Product {id: 'p3'}) RETURN p.title AS t")["t"] == "Avery CD labels"  # the first wins
    view = one(store, "MATCH (:User {id: 'u2'})-[r:VIEWED]->(:Product {id: 'p3'}) RETURN r.seq AS seq, r.count AS c")
    assert view == {"seq": 4, "c": 4}  # counts add up, the latest position wins


def test_references_to_unknown_products_or_users_are_quarantined(store: GraphStore, load: Any, tmp_path: Path) -> None:
    load(good_catalog(tmp_path / "first"))  # p1..p3, u1, u2 are now in the graph
    events = [{"user_id": "u1", "product_id": "p3"},  # known from the graph, not from this ingest
              {"user_id": "u1", "product_id": "zz"}, {"user_id": "ghost", "product_id": "p1"},
              {"user_id": "ghost", "product_id": "zz"}, {"user_id": "u1", "product_id": "zz"}]
    links = [{"src": "p1", "dst": "zz", "type": "also_viewed"}, {"src": "p4", "dst": "p1", "type": "also_viewed"}]
    report = load(write(tmp_path / "second", {"products.jsonl": jsonl([{"id": "p4", "title": "New"}]),
                                              "events.jsonl": jsonl(events), "links.jsonl": jsonl(links)}))
    assert [(e["location"], e["reason"]) for e in quarantined(report)] == [
        ("events.jsonl:2", "unknown product id 'zz'"),
        ("events.jsonl:5", "unknown product id 'zz'"),  # its duplicate goes with it
        ("events.jsonl:3", "unknown user id 'ghost'"),
        ("events.jsonl:4", "unknown user id 'ghost'; unknown product id 'zz'"),
        ("links.jsonl:1", "unknown product id 'zz'"),
    ]
    assert report.quarantine_reasons == {"unknown product id": 3, "unknown user id": 1,
                                         "unknown user id and unknown product id": 1}
    assert (report.kinds[INTER].accepted, report.kinds[L].accepted) == (1, 1)
    assert store.count_relationships()["ALSO_VIEWED"] == 1


def test_unknown_brand_keeps_the_product_without_the_edge(store: GraphStore, tmp_path: Path) -> None:
    class OneProduct(CartographReader):  # a source that names a brand id it never defines
        def _read(self) -> Iterator[Any]:
            from kg.ingest.readers.base import record

            yield record(P, {"id": "p1", "brand_id": "nobody", "category_ids": ["nowhere"]}, "x:1")

    report = ingest(OneProduct(tmp_path), store, quarantine_path=tmp_path / "q.jsonl",
                    report_path=tmp_path / "r.json", progress=False)
    assert report.kinds[P].accepted == 1 and store.count_nodes()["Product"] == 1
    assert report.warnings == {"product brand not found (MADE_BY not created)": 1,
                               "product category not found (IN_CATEGORY not created)": 1}


# -- idempotency and the two load paths -------------------------------------------------------------------
def messy_catalog(folder: Path) -> Path:
    """Good records, bad ones, duplicates and merges: everything a re-run must reproduce exactly."""
    products = [*PRODUCTS, PRODUCTS[0], {"id": "p4", "title": "N&#39; Go dots", "price": "x"},
                {"id": "p5", "title": "Refill", "description": "['one', 'two']", "price": None}]
    events = [*EVENTS, {"user_id": "u1", "product_id": "p1", "type": "purchase", "seq": 3}, {"user_id": "u1"}]
    return write(folder, {"products.jsonl": jsonl(products) + '{"id": "p6"', "users.jsonl": jsonl(USERS),
                          "events.jsonl": jsonl(events), "links.jsonl": jsonl(LINKS)})


def test_rerun_changes_nothing_by_counts_and_content(store: GraphStore, load: Any, tmp_path: Path) -> None:
    folder = messy_catalog(tmp_path / "cat")
    first = load(folder)
    before = (store.count_nodes(), store.count_relationships(), dump_graph(store))
    second = load(folder)
    assert (store.count_nodes(), store.count_relationships(), dump_graph(store)) == before
    assert second.load_method == "merge"
    same = {"read", "accepted", "quarantined", "duplicates", "merged"}
    assert {k: s.model_dump(include=same) for k, s in first.kinds.items()} == {
        k: s.model_dump(include=same) for k, s in second.kinds.items()}
    assert {k: (s.upserted, s.unchanged) for k, s in second.kinds.items()} == {
        k: (0, s.upserted) for k, s in first.kinds.items()}  # everything was there already: nothing written
    assert quarantined(first) == quarantined(second)
    assert sum(before[0].values()) > 0 and sum(before[1].values()) > 0


def test_rerun_with_changes_writes_exactly_the_changes(store: GraphStore, load: Any, tmp_path: Path) -> None:
    load(good_catalog(tmp_path / "v1"))
    events = [EVENTS[0], {**EVENTS[1], "rating": 2.0}, EVENTS[2], {"user_id": "u2", "product_id": "p1"}]
    products = [PRODUCTS[0], {**PRODUCTS[1], "price": 17.5}, PRODUCTS[2]]
    report = load(write(tmp_path / "v2", {"products.jsonl": jsonl(products), "users.jsonl": jsonl(USERS),
                                          "events.jsonl": jsonl(events), "links.jsonl": jsonl(LINKS)}))
    assert {k.value: (s.upserted, s.unchanged) for k, s in report.kinds.items() if s.read} == {
        "product": (1, 2), "brand": (0, 3), "category": (0, 3), "user": (0, 2), "interaction": (2, 2),
        "link": (0, 2)}
    assert one(store, "MATCH (p:Product {id: 'p2'}) RETURN p.price AS price")["price"] == 17.5
    assert one(store, "MATCH (:User)-[r:RATED]->(:Product) RETURN r.rating AS r")["r"] == 2.0
    assert store.count_relationships()["PURCHASED"] == 2


def test_bulk_copy_and_upserts_build_the_same_graph(fresh_embedded: Any, tmp_path: Path) -> None:
    folder = messy_catalog(tmp_path / "cat")
    bulk_store, merge_store = fresh_embedded(), fresh_embedded()
    by_copy = load_into(bulk_store, folder, tmp_path / "copy")
    by_merge = load_into(merge_store, folder, tmp_path / "merge", allow_copy=False)
    assert (by_copy.load_method, by_merge.load_method) == ("copy", "merge")
    assert {s.method for s in by_copy.stages} == {"copy"}
    assert dump_graph(bulk_store) == dump_graph(merge_store)
    assert [(s.target, s.rows, s.written, s.unchanged) for s in by_copy.stages] == [
        (s.target, s.rows, s.written, s.unchanged) for s in by_merge.stages]
    rerun = load_into(bulk_store, folder, tmp_path / "rerun")  # after a bulk load: upserts, no change
    assert rerun.load_method == "merge" and {s.written for s in rerun.stages} == {0}
    assert dump_graph(bulk_store) == dump_graph(merge_store)


def test_a_record_changes_only_the_fields_it_gives(store: GraphStore, load: Any, tmp_path: Path) -> None:
    load(good_catalog(tmp_path / "cat"))
    load(write(tmp_path / "update", {"products.jsonl": jsonl([{"id": "p1", "price": 49.0},
                                                               {"id": "p2", "price": None}])}))
    p1 = one(store, "MATCH (p:Product {id: 'p1'}) RETURN p.title AS t, p.price AS price")
    assert p1 == {"t": PRODUCTS[0]["title"], "price": 49.0}
    assert one(store, "MATCH (p:Product {id: 'p2'}) RETURN p.price AS price")["price"] is None


# -- command line ------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI builds its settings from the environment: point it into tmp_path, embedded backend."""
    for name in ("CARTOGRAPH_NEO4J_URI", "CARTOGRAPH_CONFIG", "CARTOGRAPH_EMBEDDED_PATH", "CARTOGRAPH_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    monkeypatch.setenv("CARTOGRAPH_SAMPLE_DIR", str(tmp_path / "no-sample"))
    return load_settings()


def test_cli_ingest_prints_the_report_and_writes_files(cli_env: Settings, tmp_path: Path) -> None:
    folder = messy_catalog(tmp_path / "cat")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--format", "cartograph", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "ingest of cartograph" in result.output and "quarantine reasons" in result.output
    [run] = list((cli_env.home / "ingest").iterdir())
    report = IngestReport.model_validate_json((run / "report.json").read_text())
    assert report.quarantined == len((run / "quarantine.jsonl").read_text().splitlines()) == 3
    assert f"quarantine: {run / 'quarantine.jsonl'}" in result.output
    again = CliRunner().invoke(app, ["ingest", str(folder), "--no-progress", "--report", str(tmp_path / "r.json")])
    assert again.exit_code == 0 and (tmp_path / "r.json").is_file()
    assert len(list((cli_env.home / "ingest").iterdir())) == 2  # the second run's quarantine file


def test_cli_ingest_fails_with_a_message(cli_env: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "missing"), "--no-progress"])
    assert result.exit_code == 1 and "missing does not exist" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["ingest", str(tmp_path), "--format", "bogus"])
    assert result.exit_code == 2  # typer rejects the choice


def test_cli_quickstart_loads_a_dataset_and_shows_the_graph(cli_env: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["quickstart", "--data", str(good_catalog(tmp_path / "cat")), "--no-progress",
                                      "--no-train"])
    assert result.exit_code == 0, result.output
    assert "graph contents" in result.output and "MADE_BY" in result.output
    missing = CliRunner().invoke(app, ["quickstart", "--no-progress", "--no-train"])  # the sample dir points nowhere
    assert missing.exit_code == 1 and "no dataset at" in " ".join(missing.output.split())


SAMPLE = PROJECT_ROOT / "data" / "sample"


@pytest.mark.skipif(not (SAMPLE / "MANIFEST.json").is_file(), reason="data/sample/ not generated yet")
def test_quickstart_on_the_shipped_sample_matches_its_manifest(settings: Settings) -> None:
    manifest = json.loads((SAMPLE / "MANIFEST.json").read_text())
    run = run_ingest(settings, SAMPLE, progress=False)
    assert run.report.quarantined == 0, run.report.quarantine_reasons
    files = {"products.jsonl": P, "users.jsonl": U, "events.jsonl": INTER, "links.jsonl": L}
    for name, info in manifest["files"].items():
        assert run.report.kinds[files[name]].read == info["records"], name
    assert {k: run.nodes[k] for k in manifest["graph"]["nodes"]} == manifest["graph"]["nodes"]
    rels = manifest["graph"]["relationships"]
    assert {k: run.relationships[k] for k in rels} == rels
