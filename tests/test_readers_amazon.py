"""The generic Amazon readers: Reviews 2018 and 2023 (any category) and the per-category index files.

Fixtures are written here, small and with the mess the real releases have (a Python-literal line, markup in
``main_cat``, price text, ranges, unverified reviews, links outside the catalog), gzip included.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from kg.config import Settings
from kg.errors import ValidationError
from kg.ingest.readers import detect_format, open_reader
from kg.ingest.readers.amazon_office import AmazonIndexReader
from kg.ingest.readers.amazon_reviews import Amazon2023Reader, AmazonReviewsReader
from kg.ingest.records import RawRecord, RecordKind
from kg.ingest.run import run_ingest


def write_lines(path: Path, lines: list[Any]) -> None:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())


def good(records: list[RawRecord], kind: RecordKind) -> list[dict[str, Any]]:
    return [r.data for r in records if r.kind is kind and r.error is None]


def errors(records: list[RawRecord]) -> list[tuple[str, str, str]]:
    return [(r.kind.value, r.location, r.error or "") for r in records if r.error is not None]


META_2018 = [
    {"asin": "B01", "title": "Digital Caliper 6''", "brand": "Visit Amazon's Neiko Page",
     "category": ["Industrial & Scientific", "Test, Measure & Inspect"], "description": ["Stainless steel."],
     "feature": ["0-6 inch range"], "price": "$12.99", "also_buy": ["B02", "B99"], "also_view": [],
     "details": {"\n    Item Weight: \n    ": "4 ounces", "ASIN: ": "B01"}},
    {"asin": "B02", "title": "Industrial & Scientific\" />", "brand": "", "category": [],
     "main_cat": '<img src="x.png" class="nav-categ-image" alt="Industrial & Scientific"/>',
     "description": [], "price": "$10.00 - $20.00"},
    "{'asin': 'B03', 'title': 'eval-style'}",
    '{"asin": "B04", "title": ',
    {"asin": "B05", "title": "PTFE Tape", "brand": "Neiko", "category": [], "price": "", "also_buy": ["B01"]},
]
REVIEWS_2018 = [
    {"overall": 5.0, "verified": True, "reviewerID": "U1", "asin": "B01", "unixReviewTime": 1500000000},
    {"overall": 3.0, "verified": False, "reviewerID": "U1", "asin": "B05", "unixReviewTime": 1500000100},
    {"overall": 4.0, "verified": True, "reviewerID": "U2", "asin": "B01", "unixReviewTime": 1500000200},
    "not json at all",
]


@pytest.fixture
def dir_2018(tmp_path: Path) -> Path:
    root = tmp_path / "a2018"
    write_lines(root / "meta_Industrial_and_Scientific.json.gz", META_2018)
    write_lines(root / "Industrial_and_Scientific_5.json.gz", REVIEWS_2018)
    return root


def test_2018_reader_records(dir_2018: Path) -> None:
    reader = AmazonReviewsReader(dir_2018)
    assert reader.source == "amazon-2018:industrial-and-scientific"
    records = list(reader.read())
    assert good(records, RecordKind.BRAND) == [{"id": "neiko", "name": "Neiko"}]
    assert [c["name"] for c in good(records, RecordKind.CATEGORY)] == [
        "Industrial & Scientific", "Test, Measure & Inspect", "Industrial and Scientific"]
    products = good(records, RecordKind.PRODUCT)
    assert [p["id"] for p in products] == ["B01", "B02", "B05"]
    first = products[0]
    assert first["price"] == 12.99 and first["brand_id"] == "neiko"
    assert first["category_ids"] == ["industrial-scientific", "test-measure-inspect"]
    assert first["description"] == "Stainless steel.\n\n0-6 inch range\n\nItem Weight: 4 ounces"
    assert first["source"] == "amazon-2018:industrial-and-scientific"
    # markup main_cat gives its alt text; a price range is left empty and noted
    assert products[1]["category_ids"] == ["industrial-scientific"] and products[1]["price"] is None
    assert products[2]["category_ids"] == ["industrial-and-scientific"]  # from the file name
    assert [u["id"] for u in good(records, RecordKind.USER)] == ["U1", "U2"]
    inter = good(records, RecordKind.INTERACTION)
    assert [(i["user_id"], i["product_id"], i["kind"], i["ts"], i["rating"]) for i in inter] == [
        ("U1", "B01", "purchase", 1500000000, 5.0), ("U1", "B05", "rating", 1500000100, 3.0),
        ("U2", "B01", "purchase", 1500000200, 4.0)]
    links = good(records, RecordKind.LINK)
    assert [(x["src"], x["dst"], x["kind"]) for x in links] == [("B01", "B02", "also_bought"),
                                                                 ("B05", "B01", "also_bought")]
    errs = errors(records)
    assert [e[:2] for e in errs] == [("product", "meta_Industrial_and_Scientific.json.gz:3"),
                                     ("product", "meta_Industrial_and_Scientific.json.gz:4"),
                                     ("interaction", "Industrial_and_Scientific_5.json.gz:4")]
    assert "Python literal" in errs[0][2] and errs[1][2].startswith("invalid JSON")
    assert reader.notes["price ranges (left empty)"] == 1
    assert reader.notes["also_bought links to products outside the catalog (not loaded)"] == 1
    assert reader.notes["reviews without a verified purchase (loaded as ratings)"] == 1


def test_2018_ratings_csv_without_reviews(tmp_path: Path) -> None:
    write_lines(tmp_path / "meta_Toys.json", [{"asin": "T1", "title": "Kite"}])
    write_lines(tmp_path / "Toys.csv", ["T1,U9,4.0,1400000000", "T1,U8,x,1400000000", "bad"])
    records = list(AmazonReviewsReader(tmp_path).read())
    assert [(i["user_id"], i["product_id"], i["kind"], i["rating"]) for i in good(records, RecordKind.INTERACTION)] \
        == [("U9", "T1", "rating", 4.0), ("U8", "T1", "rating", "x")]
    assert errors(records) == [("interaction", "Toys.csv:3",
                                "invalid CSV: 1 fields, expected 4 (item,user,rating,timestamp)")]


META_2023 = [
    {"main_category": "Office Products", "title": "Gel Pens, 12 Pack", "price": 9.5, "store": "Pilot",
     "categories": ["Office Products", "Writing"], "details": {"Brand": "PILOT", "Color": "Black",
                                                                "Date First Available": "May 1, 2020"},
     "description": ["Smooth ink."], "features": ["0.7mm"], "parent_asin": "P1", "bought_together": None},
    {"main_category": "Office Products", "title": "Stapler", "price": None, "store": None, "categories": [],
     "details": {}, "description": [], "features": [], "parent_asin": "P2"},
    {"main_category": "Office Products", "title": "Tape", "price": "from 3.99", "parent_asin": "P3"},
]
REVIEWS_2023 = [
    {"rating": 5.0, "user_id": "AU1", "asin": "P1-blue", "parent_asin": "P1", "timestamp": 1588687728923,
     "verified_purchase": True},
    {"rating": 2.0, "user_id": "AU2", "asin": "P2", "parent_asin": "P2", "timestamp": 1588687729000,
     "verified_purchase": True},
    {"rating": 4.0, "user_id": "AU2", "asin": "PX", "parent_asin": "PX", "timestamp": 1588687729000,
     "verified_purchase": True},
]


@pytest.fixture
def dir_2023(tmp_path: Path) -> Path:
    root = tmp_path / "a2023"
    write_lines(root / "meta_Office_Products.jsonl.gz", META_2023)
    write_lines(root / "Office_Products.jsonl.gz", REVIEWS_2023)
    return root


def test_2023_reader_records(dir_2023: Path) -> None:
    reader = Amazon2023Reader(dir_2023)
    records = list(reader.read())
    assert reader.source == "amazon-2023:office-products"
    products = good(records, RecordKind.PRODUCT)
    assert [(p["id"], p["price"], p["brand_id"]) for p in products] == [
        ("P1", 9.5, "pilot"), ("P2", None, None), ("P3", None, None)]
    assert products[0]["description"] == "Smooth ink.\n\n0.7mm\n\nBrand: PILOT; Color: Black"
    assert products[0]["category_ids"] == ["office-products", "writing"]
    assert products[1]["category_ids"] == ["office-products"]  # main_category
    assert [(i["user_id"], i["product_id"], i["ts"]) for i in good(records, RecordKind.INTERACTION)] == [
        ("AU1", "P1", 1588687728), ("AU2", "P2", 1588687729), ("AU2", "PX", 1588687729)]
    assert reader.notes["prices that are not a number (left empty)"] == 1


def test_detect_and_single_meta_file(dir_2018: Path, dir_2023: Path) -> None:
    assert detect_format(dir_2018) == "amazon-2018"
    assert detect_format(dir_2023) == "amazon-2023"
    meta = dir_2023 / "meta_Office_Products.jsonl.gz"
    assert detect_format(meta) == "amazon-2023"
    reader = open_reader(meta)
    assert len(good(list(reader.read()), RecordKind.INTERACTION)) == 3  # the reviews beside it


def test_no_meta_file_is_a_validation_error(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(ValidationError, match=r"no amazon-2023 metadata file.*meta_<Category>\.jsonl"):
        list(Amazon2023Reader(tmp_path / "x").read())


def test_index_reader_takes_the_category_from_the_file_names(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    root.mkdir()
    (root / "Industrial_and_Scientific.item.json").write_text(json.dumps(
        {"0": {"title": "Caliper", "description": "[]", "brand": "Neiko", "categories": ""}}))
    (root / "Industrial_and_Scientific.valid.csv").write_text(
        "user_id,history_item_title,item_title,history_item_id,item_id\nU1,x,y,[0],0\n")
    assert detect_format(root) == "amazon-index"
    reader = AmazonIndexReader(root)
    records = list(reader.read())
    assert reader.source == "amazon-industrial-and-scientific"
    assert [p["id"] for p in good(records, RecordKind.PRODUCT)] == ["industrial-and-scientific:0"]
    assert good(records, RecordKind.PRODUCT)[0]["source"] == "amazon-industrial-and-scientific"
    assert [u["id"] for u in good(records, RecordKind.USER)] == ["industrial-and-scientific:U1"]


def test_2018_ingest_end_to_end(dir_2018: Path, tmp_path: Path) -> None:
    """Through the pipeline: quarantine counts, unknown products, report source."""
    settings = Settings(home=tmp_path / "home", store_backend="embedded")
    run = run_ingest(settings, dir_2018, progress=False)
    report = run.report
    assert report.source == "amazon-2018:industrial-and-scientific"
    assert report.kinds[RecordKind.PRODUCT].accepted == 3 and report.kinds[RecordKind.PRODUCT].quarantined == 2
    assert report.kinds[RecordKind.INTERACTION].accepted == 3
    assert run.nodes["Product"] == 3 and run.relationships["ALSO_BOUGHT"] == 2
