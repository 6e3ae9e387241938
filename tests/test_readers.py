"""Readers of the real datasets and of schema.org RDF, format detection, and the shipped sample.

Tiny fixture folders mimicking each dataset's layout (bad lines included) run everywhere; the tests on the
full datasets in ``../shared/data`` skip with the reason when it is absent (a user's fresh clone).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from kg.errors import ValidationError
from kg.ingest.readers import READERS, Reader, detect_format, open_reader
from kg.ingest.readers.amazon_beauty import AmazonBeautyReader
from kg.ingest.readers.amazon_office import AmazonOfficeReader
from kg.ingest.readers.base import MAX_RAW_CHARS, clean_name, sequence_interactions
from kg.ingest.readers.rdf import JsonLdReader, RdfReader, TurtleReader
from kg.ingest.records import MODEL_BY_KIND, RawRecord, RecordKind, slug

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED_DATA = Path(os.environ.get("CARTOGRAPH_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real dataset {path} not present (set CARTOGRAPH_SHARED_DATA to the shared/data folder)")
    return path


def good(records: Iterable[RawRecord], kind: RecordKind) -> list[dict[str, Any]]:
    return [r.data for r in records if r.kind is kind and r.error is None]


def errors(records: Iterable[RawRecord]) -> list[tuple[str, str, str]]:
    return [(r.kind.value, r.location, r.error) for r in records if r.error is not None]


def interactions(records: Iterable[RawRecord]) -> list[tuple[str, str, int, int]]:
    return [(i["user_id"], i["product_id"], i["seq"], i["count"]) for i in good(records, RecordKind.INTERACTION)]


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


# -- amazon-beauty --------------------------------------------------------------------------------------


@pytest.fixture
def beauty_dir(tmp_path: Path) -> Path:
    root = tmp_path / "amazon-beauty"
    maps = {"id2user": {"1": "U1", "2": "U2", "3": "U3"}, "id2item": {"1": "A1", "2": "A2", "3": "A3", "4": "A4"}}
    write(root / "p5/datamaps.json", json.dumps(maps))
    # U2 buys A2 twice; user 9 is unknown; U3 has an unknown item 'x'; line 5 has a bad byte.
    write(root / "s3rec/Beauty.txt", b"1 1 2 3\n2 2 4 2\n9 1 2\n3 1 x 3\n\xff 1\n")
    write(root / "idgenrec/item_generative_indexing_phase_0.txt", "A1 rose lip balm\nA2 blue polish\nZZ other\nA3\n")
    write(root / "pgpr/product.txt.gz", "A1\nA2\nA3\nA4\nA9\n")  # A9: not in the catalog
    write(root / "pgpr/brand.txt.gz", "L&#39;Oreal\nREDKEN\nRedken\n\n")  # index 3: empty name
    write(root / "pgpr/brand_p_b.txt.gz", "0\n1\n2\n3\n1\n")
    write(root / "pgpr/category.txt.gz", "Beauty\nCotton & Swabs\nCotton Swabs\nMakeup\n")
    write(root / "pgpr/category_p_c.txt.gz", "0 3\n0 1\n0 2 99\n0\n3\n")  # 99: no such category
    write(root / "pgpr/related_product.txt.gz", "A2\nA3\nOUT1\nA1\n")
    write(root / "pgpr/also_bought_p_p.txt.gz", "0 1 2\n3 0\n\nzz 0\n0\n")  # A2 -> A2 is a self-link
    write(root / "pgpr/also_viewed_p_p.txt.gz", "0 0\n\n\n\n\n")  # a duplicate
    return root  # bought_together_p_p.txt.gz is missing: optional


def test_amazon_beauty_fixture_records(beauty_dir: Path) -> None:
    reader = AmazonBeautyReader(beauty_dir)
    records = list(reader.read())
    assert good(records, RecordKind.BRAND) == [{"id": "l-oreal", "name": "L'Oreal"}, {"id": "redken", "name": "REDKEN"}]
    assert good(records, RecordKind.CATEGORY) == [
        {"id": "beauty", "name": "Beauty", "parent_id": None},
        {"id": "cotton-swabs", "name": "Cotton & Swabs", "parent_id": None},
        {"id": "makeup", "name": "Makeup", "parent_id": None},
    ]
    products = {p["id"]: p for p in good(records, RecordKind.PRODUCT)}
    assert list(products) == ["A1", "A2", "A3", "A4"]
    assert products["A1"] == {"id": "A1", "title": "rose lip balm", "description": None, "price": None,
                              "brand_id": "l-oreal", "category_ids": ["beauty", "makeup"], "source": "amazon-beauty"}
    assert (products["A3"]["title"], products["A3"]["brand_id"], products["A3"]["category_ids"]) == (
        None, "redken", ["beauty", "cotton-swabs"])
    assert (products["A4"]["title"], products["A4"]["brand_id"]) == (None, None)
    users = good(records, RecordKind.USER)
    assert users == [{"id": u, "name": None, "source": "amazon-beauty"} for u in ("U1", "U2", "U3")]
    assert interactions(records) == [("U1", "A1", 0, 1), ("U1", "A2", 1, 1), ("U1", "A3", 2, 1),
                            ("U2", "A4", 1, 1), ("U2", "A2", 2, 2), ("U3", "A1", 0, 1), ("U3", "A3", 2, 1)]
    assert all(i["kind"] == "purchase" and i["ts"] is None for i in good(records, RecordKind.INTERACTION))
    links = [(k["src"], k["dst"], k["kind"]) for k in good(records, RecordKind.LINK)]
    assert links == [("A1", "A2", "also_bought"), ("A1", "A3", "also_bought"), ("A2", "A1", "also_bought"),
                     ("A4", "A2", "also_bought"), ("A1", "A2", "also_viewed")]
    assert errors(records) == [
        ("product", "category_p_c.txt.gz:3", "not indexes into category.txt.gz (4 entries): ['99']"),
        ("interaction", "Beauty.txt:3", "user id '9' is not in datamaps.json id2user"),
        ("interaction", "Beauty.txt:4", "item ids not in datamaps.json id2item: ['x']"),
        ("interaction", "Beauty.txt:5", "not valid UTF-8: invalid start byte"),
        ("link", "also_bought_p_p.txt.gz:4", "not indexes into related_product.txt.gz (4 entries): ['zz']"),
    ]
    assert reader.notes == {
        "titles of products outside the catalog (ignored)": 1,
        "catalog products without a title (none or empty)": 2,
        "optional file missing: pgpr/bought_together_p_p.txt.gz": 1,
        "PGPR products not in datamaps.json (ignored)": 1,
        "products whose brand name is empty (no brand)": 1,
        "brand spellings merged into another spelling's id (same slug)": 1,
        "category names merged into another name's id (same slug)": 1,
        "repeated purchases merged into one interaction (count > 1)": 1,
        "also_bought links to products outside the catalog (not loaded)": 1,
        "also_bought self-links (skipped)": 1,
        "also_viewed duplicate links (skipped)": 1,
    }


def test_amazon_beauty_records_validate(beauty_dir: Path) -> None:
    """What the reader yields without an error is accepted by the typed models (the pipeline's rules)."""
    records = list(AmazonBeautyReader(beauty_dir).read())
    accepted = [rec for rec in records if rec.error is None]
    assert len(accepted) > len(records) / 2  # the fixture is mostly good data: a reader erring on all would pass
    assert {rec.kind.value for rec in accepted} >= {"product", "user", "brand", "category", "interaction"}
    for rec in accepted:
        MODEL_BY_KIND[rec.kind](**rec.data)


def test_amazon_beauty_missing_required_file(beauty_dir: Path) -> None:
    (beauty_dir / "s3rec/Beauty.txt").unlink()
    reader = AmazonBeautyReader(beauty_dir)  # no I/O yet
    with pytest.raises(ValidationError, match=r"missing s3rec/Beauty\.txt.*should contain.*p5/datamaps\.json"):
        list(reader.read())


def test_amazon_beauty_unreadable_datamaps(beauty_dir: Path) -> None:
    write(beauty_dir / "p5/datamaps.json", "{not json")
    with pytest.raises(ValidationError, match=r"datamaps\.json: not a P5 datamaps file") as e:
        list(AmazonBeautyReader(beauty_dir).read())
    assert e.value.__cause__ is not None


# -- amazon-office --------------------------------------------------------------------------------------

OFFICE_ITEMS: dict[str, Any] = {
    "0": {"title": "Gel Pen", "description": "['<div style=\"x\">Smooth</div>', ' <!-- .a {color:#000} --> ']",
          "brand": "Pilot", "categories": ""},
    "1": {"title": "Fine Pen", "description": "['']", "brand": ".Pilot", "categories": ""},
    "2": {"title": "Stapler", "description": "[]", "brand": "", "categories": ""},
    "3": "not an object",
}
CSV_HEADER = "user_id,history_item_title,item_title,history_item_id,item_id\n"


@pytest.fixture
def office_dir(tmp_path: Path) -> Path:
    root = tmp_path / "amazon-office"
    write(root / "Office_Products.item.json", json.dumps(OFFICE_ITEMS, indent=2))
    write(root / "Office_Products.valid.csv", CSV_HEADER + (
        "U1,['a'],b,[0],1\n"
        "U1,\"['a', 'b']\",c,\"[0, 1]\",2\n"
        "U3,['a'],b,[0],1\n"
        "U4,x,y,\"[1, 2\",3\n"  # broken list
        "U5,x\n"  # too few fields
    ))
    write(root / "Office_Products.test.csv", CSV_HEADER + (
        "U1,x,y,\"[0, 1, 2]\",0\n"  # extends U1's valid history; buys 0 again
        "U3,x,y,[2],0\n"  # contradicts U3's valid window: the test split wins
    ))
    return root


def test_amazon_office_fixture_records(office_dir: Path) -> None:
    reader = AmazonOfficeReader(office_dir)
    records = list(reader.read())
    assert good(records, RecordKind.BRAND) == [{"id": "pilot", "name": "Pilot"}]
    products = good(records, RecordKind.PRODUCT)
    assert [p["id"] for p in products] == ["office:0", "office:1", "office:2"]
    assert products[0] == {"id": "office:0", "title": "Gel Pen", "description": OFFICE_ITEMS["0"]["description"],
                           "price": None, "brand_id": "pilot", "category_ids": [], "source": "amazon-office"}
    assert [p["brand_id"] for p in products] == ["pilot", "pilot", None]
    assert [u["id"] for u in good(records, RecordKind.USER)] == ["office:U1", "office:U3"]
    assert interactions(records) == [("office:U1", "office:1", 1, 1), ("office:U1", "office:2", 2, 1),
                            ("office:U1", "office:0", 3, 2), ("office:U3", "office:2", 0, 1),
                            ("office:U3", "office:0", 1, 1)]
    assert [(k, loc) for k, loc, _ in errors(records)] == [
        ("product", "Office_Products.item.json#3"), ("interaction", "Office_Products.valid.csv:5"),
        ("interaction", "Office_Products.valid.csv:6")]
    assert errors(records)[2][2] == "unreadable row: missing field(s) ['history_item_id', 'item_id']"
    assert reader.notes == {
        "products without a brand": 1,
        "brand spellings merged into another spelling's id (same slug)": 1,
        "users whose valid and test windows disagree (test windows kept)": 1,
        "repeated purchases merged into one interaction (count > 1)": 1,
    }


def test_amazon_office_recovers_items_from_a_damaged_file(office_dir: Path) -> None:
    text = json.dumps({k: v for k, v in OFFICE_ITEMS.items() if k != "3"}, indent=2)
    write(office_dir / "Office_Products.item.json", text.replace('"title": "Fine Pen",', '"title": "Fine Pen"'))
    reader = AmazonOfficeReader(office_dir)
    records = list(reader.read())
    assert [p["id"] for p in good(records, RecordKind.PRODUCT)] == ["office:0", "office:2"]
    [(kind, location, error)] = errors([r for r in records if r.kind is RecordKind.PRODUCT])
    assert (kind, location) == ("product", "Office_Products.item.json#1")
    assert error.startswith("item is not valid JSON")
    assert reader.notes["Office_Products.item.json is not valid JSON; items recovered one by one"] == 1


def test_amazon_office_missing_item_file(tmp_path: Path) -> None:
    (tmp_path / "office").mkdir()
    with pytest.raises(ValidationError, match=r"missing <Category>\.item\.json"):
        list(AmazonOfficeReader(tmp_path / "office").read())


def test_broken_record_raw_is_truncated(office_dir: Path) -> None:
    items = dict(OFFICE_ITEMS, **{"3": "x" * 5000})
    write(office_dir / "Office_Products.item.json", json.dumps(items))
    [broken] = [r for r in AmazonOfficeReader(office_dir).read() if r.error and r.kind is RecordKind.PRODUCT]
    assert len(broken.data["raw"]) == MAX_RAW_CHARS


# -- RDF ------------------------------------------------------------------------------------------------

JSON_LD = {
    "@context": "https://schema.org",  # replaced by an inline context: reading needs no network
    "@graph": [
        {"@type": "Product", "@id": "https://shop.example/p/pen", "productID": "PEN-1", "sku": "SKU-1",
         "name": "Gel Pen", "description": "Smooth <b>blue</b> ink",
         "brand": {"@type": "Brand", "name": "Pilot"}, "category": "Pens",
         "offers": {"@type": "Offer", "price": "2.50", "priceCurrency": "USD"}},
        {"@type": "Product", "@id": "https://shop.example/p/tape", "sku": "TAPE-9", "name": "Magic Tape",
         "brand": "Scotch", "category": "https://shop.example/c/Office_Tape",
         "offers": [{"@type": "Offer", "price": 4.0, "priceCurrency": "EUR"},
                    {"@type": "Offer", "price": "3.5", "priceCurrency": "EUR"}]},
        {"@type": "Product", "name": "Nameless"},
    ],
}
TURTLE = """\
@prefix schema: <http://schema.org/> .
@prefix s: <https://schema.org/> .
@prefix ex: <https://shop.example/> .
ex:pilot a schema:Brand ; schema:name "Pilot" .
ex:pens schema:name "Pens" .
ex:pen a schema:Product ; schema:productID "PEN-1" ; schema:name "Gel Pen"@en, "Stylo gel"@fr ;
    schema:brand ex:pilot ; schema:category ex:pens ;
    schema:offers [ a schema:Offer ; schema:price 2.50 ; schema:priceCurrency "USD" ] .
ex:stapler a s:Product ; s:name "Stapler" ; s:description "Heavy duty" ; s:brand "Swingline" ;
    s:offers [ a s:Offer ; s:price "12.00" ] .
"""


def test_jsonld_reader(tmp_path: Path) -> None:
    path = tmp_path / "catalog.jsonld"
    write(path, json.dumps(JSON_LD))
    reader = open_reader(path)
    assert isinstance(reader, JsonLdReader) and reader.source == "jsonld"
    records = list(reader.read())
    assert good(records, RecordKind.BRAND) == [{"id": "pilot", "name": "Pilot"}, {"id": "scotch", "name": "Scotch"}]
    assert good(records, RecordKind.CATEGORY) == [{"id": "pens", "name": "Pens", "parent_id": None},
                                                  {"id": "office-tape", "name": "Office Tape", "parent_id": None}]
    assert good(records, RecordKind.PRODUCT) == [
        {"id": "PEN-1", "title": "Gel Pen", "description": "Smooth <b>blue</b> ink", "price": 2.5,
         "brand_id": "pilot", "category_ids": ["pens"], "source": "jsonld"},
        {"id": "TAPE-9", "title": "Magic Tape", "description": None, "price": 3.5, "brand_id": "scotch",
         "category_ids": ["office-tape"], "source": "jsonld"},
    ]
    assert errors(records) == [("product", "catalog.jsonld#(blank node named 'Nameless')",
                                "product has no schema:productID, no schema:sku and no IRI (a blank node)")]
    assert reader.notes == {"prices in USD (currency not converted)": 1, "prices in EUR (currency not converted)": 2}


def test_turtle_reader(tmp_path: Path) -> None:
    path = tmp_path / "catalog.ttl"
    write(path, TURTLE)
    reader = open_reader(path)
    assert isinstance(reader, TurtleReader)
    records = list(reader.read())
    assert errors(records) == []
    assert good(records, RecordKind.BRAND) == [{"id": "pilot", "name": "Pilot"},
                                               {"id": "swingline", "name": "Swingline"}]
    assert good(records, RecordKind.PRODUCT) == [
        {"id": "PEN-1", "title": "Gel Pen", "description": None, "price": 2.5, "brand_id": "pilot",
         "category_ids": ["pens"], "source": "turtle"},
        {"id": "https://shop.example/stapler", "title": "Stapler", "description": "Heavy duty", "price": 12.0,
         "brand_id": "swingline", "category_ids": [], "source": "turtle"},
    ]
    assert reader.notes == {"prices in USD (currency not converted)": 1, "prices without priceCurrency": 1}


@pytest.mark.parametrize(("name", "text", "cause"), [
    ("bad.ttl", "@prefix schema: <http://schema.org/> .\nex:p a schema:Product", "BadSyntax"),
    ("bad.jsonld", '{"@context": "https://schema.org", "@type": ', "JSONDecodeError"),
])
def test_unparseable_rdf_is_a_validation_error(tmp_path: Path, name: str, text: str, cause: str) -> None:
    write(tmp_path / name, text)
    with pytest.raises(ValidationError, match=f"{name}: not valid") as e:
        list(RdfReader(tmp_path / name).read())
    assert type(e.value.__cause__).__name__ == cause


# -- detection and the registry -------------------------------------------------------------------------


def test_detect_format(tmp_path: Path, beauty_dir: Path, office_dir: Path) -> None:
    write(tmp_path / "a.jsonld", "{}")
    write(tmp_path / "b.json", '{"@context": {"@vocab": "http://schema.org/"}}')
    write(tmp_path / "c.json", '{"id": "x"}')
    write(tmp_path / "d.ttl", "")
    write(tmp_path / "cat/products.jsonl", "")
    assert detect_format(beauty_dir) == "amazon-beauty"
    assert detect_format(office_dir) == "amazon-index"
    assert [detect_format(tmp_path / n) for n in ("a.jsonld", "b.json", "c.json", "d.ttl", "cat")] == [
        "jsonld", "jsonld", "cartograph", "turtle", "cartograph"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match=r"cannot tell the format.*amazon-beauty folder"):
        detect_format(tmp_path / "empty")
    with pytest.raises(ValidationError, match="does not exist"):
        detect_format(tmp_path / "nowhere")


def test_registry_and_open_reader(beauty_dir: Path) -> None:
    assert set(READERS) == {"cartograph", "amazon-beauty", "amazon-2018", "amazon-2023", "amazon-index",
                            "amazon-office", "jsonld", "turtle"}
    assert READERS["amazon-beauty"] is AmazonBeautyReader
    reader = open_reader(beauty_dir, "amazon-beauty")
    assert isinstance(reader, Reader) and reader.source == "amazon-beauty"
    with pytest.raises(ValidationError, match="unknown format 'csv'"):
        open_reader(beauty_dir, "csv")


def test_cartograph_reader_is_registered() -> None:
    assert READERS["cartograph"].__name__ == "CartographReader"


# -- shared helpers -------------------------------------------------------------------------------------


def test_clean_name_decodes_entities_once_or_twice() -> None:
    assert clean_name("Kirk&amp;#39;s  Soap ") == "Kirk's Soap"
    assert clean_name("Crabtree &amp; Evelyn") == "Crabtree & Evelyn"
    assert slug(clean_name("L&#39;Oreal Paris")) == "l-oreal-paris"


def test_sequence_interactions_merges_repeats_at_last_position() -> None:
    records, repeats = sequence_interactions("u", ["a", None, "b", "a"], ["f:1"] * 4)
    assert repeats == 1
    assert [(r.data["product_id"], r.data["seq"], r.data["count"]) for r in records] == [("b", 2, 1), ("a", 3, 2)]


# -- the full datasets (optional) -----------------------------------------------------------------------


def summarize(reader: Reader) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    links: Counter[str] = Counter()
    purchases = 0
    for rec in reader.read():
        kinds[rec.kind.value + (" error" if rec.error else "")] += 1
        if rec.kind is RecordKind.LINK and not rec.error:
            links[rec.data["kind"]] += 1
        if rec.kind is RecordKind.INTERACTION and not rec.error:
            purchases += rec.data["count"]
    return {"kinds": dict(kinds), "links": dict(links), "purchases": purchases, "notes": reader.notes}


def test_full_amazon_beauty_totals() -> None:
    summary = summarize(AmazonBeautyReader(shared("amazon-beauty")))
    assert summary["kinds"] == {"brand": 2036, "category": 247, "product": 12101, "user": 22363,
                                "interaction": 198502, "link": 403715}
    assert summary["purchases"] == 198502  # no item repeats in any sequence
    assert summary["links"] == {"also_bought": 239344, "also_viewed": 155350, "bought_together": 9021}
    assert summary["notes"] == {
        "catalog products without a title (none or empty)": 1,
        "products whose brand name is empty (no brand)": 18,
        "brand spellings merged into another spelling's id (same slug)": 39,
        "category names merged into another name's id (same slug)": 1,
        "also_bought links to products outside the catalog (not loaded)": 651837,
        "also_bought self-links (skipped)": 1,
    }


def test_full_amazon_office_totals() -> None:
    summary = summarize(AmazonOfficeReader(shared("amazon-office")))
    assert summary["kinds"] == {"brand": 770, "product": 3459, "user": 3231, "interaction": 21188}
    assert summary["purchases"] == 22447
    assert summary["notes"] == {
        "products without a brand": 5,
        "brand spellings merged into another spelling's id (same slug)": 7,
        "repeated purchases merged into one interaction (count > 1)": 1259,
    }


# -- the shipped sample ---------------------------------------------------------------------------------

KEY_ORDER = {
    "products": ["id", "title", "description", "price", "brand", "categories", "active"],
    "users": ["id", "name"],
    "events": ["user_id", "product_id", "type", "ts", "seq", "rating", "count"],
    "links": ["src", "dst", "type"],
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((SAMPLE / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample_rows(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for name in manifest["files"]:
        assert name.endswith(".jsonl"), "this test reads the JSON Lines sample"
        lines = (SAMPLE / name).read_text(encoding="utf-8").splitlines()
        rows[name.removesuffix(".jsonl")] = [json.loads(line) for line in lines]
    return rows


def test_sample_files_exist_small_and_match_manifest(manifest: dict[str, Any],
                                                     sample_rows: dict[str, list[dict[str, Any]]]) -> None:
    sizes = {name: (SAMPLE / name).stat().st_size for name in manifest["files"]}
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 3_000_000
    assert (SAMPLE / "README.md").is_file()
    for name, info in manifest["files"].items():
        assert len(sample_rows[name.removesuffix(".jsonl")]) == info["records"], name
        assert sizes[name] == info["bytes"], name
    for stem, rows in sample_rows.items():
        for row in rows:
            assert list(row) == KEY_ORDER[stem][: len(row)], (stem, row)


def test_sample_is_consistent(manifest: dict[str, Any], sample_rows: dict[str, list[dict[str, Any]]]) -> None:
    products = {p["id"] for p in sample_rows["products"]}
    users = {u["id"] for u in sample_rows["users"]}
    assert len(products) == len(sample_rows["products"]) and len(users) == len(sample_rows["users"])
    events = sample_rows["events"]
    assert all(e["user_id"] in users and e["product_id"] in products for e in events)
    assert len({(e["user_id"], e["product_id"]) for e in events}) == len(events)
    by_user: dict[str, list[int]] = {}
    for e in events:
        by_user.setdefault(e["user_id"], []).append(e["seq"])
    assert all(seqs == list(range(len(seqs))) for seqs in by_user.values())
    assert sum(len(s) >= 4 for s in by_user.values()) > len(by_user) / 2
    assert all(k["src"] in products and k["dst"] in products and k["src"] != k["dst"] for k in sample_rows["links"])
    nodes = manifest["graph"]["nodes"]
    assert nodes["Brand"] == len({slug(p["brand"]) for p in sample_rows["products"] if p["brand"]})
    assert nodes["Category"] == len({slug(c) for p in sample_rows["products"] for c in p["categories"]})
    assert sum(1 for p in sample_rows["products"] if p["description"] and "<" in p["description"]) >= 3


def test_sample_reads_cleanly_through_the_catalog_reader(manifest: dict[str, Any]) -> None:
    kinds: Counter[str] = Counter()
    for rec in open_reader(SAMPLE).read():
        assert rec.error is None, (rec.location, rec.error)
        MODEL_BY_KIND[rec.kind](**rec.data)
        kinds[rec.kind.value] += 1
    nodes = manifest["graph"]["nodes"]
    assert (kinds["product"], kinds["user"], kinds["brand"], kinds["category"]) == (
        nodes["Product"], nodes["User"], nodes["Brand"], nodes["Category"])
    assert kinds["interaction"] == manifest["files"]["events.jsonl"]["records"]
    assert kinds["link"] == manifest["files"]["links.jsonl"]["records"]


def test_sample_is_what_the_script_makes(
    tmp_path: Path, manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped sample can be regenerated byte for byte from the real data (so it is not hand-edited)."""
    data_dir = shared("amazon-beauty").parent
    shared("amazon-office")
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "scripts" / "make_sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_sample", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in manifest["arguments"].items()]
    assert module.main(["--data-dir", str(data_dir), "--out", str(tmp_path), *args]) == 0
    for name in [*manifest["files"], "MANIFEST.json", "README.md"]:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
