"""Entity extraction end to end on the real embedded store: normalisation, the pattern-and-lexicon extractor,
linking, incremental re-runs (no model calls on unchanged text), bad input, and the CLI on the sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_extract_llm import FakeServer, products_of
from typer.testing import CliRunner

from cartograph.cli import app
from kg.extract.base import TextItem
from kg.extract.lexicon import Lexicon, LexiconExtractor
from kg.extract.llm import LLMConfig, LLMExtractor
from kg.extract.normalise import EntityResolver, KnownEntity, canonical_key, singular
from kg.extract.pipeline import extract_into
from kg.extract.schema import EntityType, parse_type
from kg.ingest.cleaning import clean_product_text
from kg.schema import NodeLabel
from kg.store import GraphStore

T = EntityType


@pytest.mark.parametrize(("entity_type", "surface", "key"), [
    (T.PRODUCT_TYPE, "Gel Pens", "gel pen"),
    (T.PRODUCT_TYPE, "Makeup Brushes", "makeup brush"),
    (T.PRODUCT_TYPE, "Batteries", "battery"),
    (T.SIZE, '8.5" x 11"', "8.5 in x 11 in"),
    (T.SIZE, "8-1/2 X 11 Inches", "8 1/2 in x 11 in"),
    (T.SIZE, "3.4-Ounce", "3.4 oz"),
    (T.SIZE, "0.50mm", "0.5 mm"),
    (T.QUANTITY, "Pack of 12", "12 count"),
    (T.QUANTITY, "12-Count", "12 count"),
    (T.QUANTITY, "500 Sheets", "500 sheet"),
    (T.MODEL_NUMBER, "LJU-120EF-12C", "lju120ef12c"),
    (T.BRAND, "Hewlett-Packard", "hp"),
    (T.BRAND, "L'Oréal Paris", "loreal paris"),
    (T.BRAND, "PaperMate", "paper mate"),
    (T.COLOR, "Grey", "gray"),
    (T.AUDIENCE, "Women's", "woman"),
    # issue 19: two primes are inches, micro units keep their micro, ranges and fractions stay numbers
    (T.SIZE, "8''", "8 in"),
    (T.SIZE, "8″", "8 in"),
    (T.SIZE, "10µm", "10 um"),
    (T.SIZE, "10 microns", "10 um"),
    (T.SIZE, "0-6 inch", "0-6 in"),
    (T.SIZE, "3 to 5 ft", "3-5 ft"),
    (T.SIZE, "10\u201320 mm", "10-20 mm"),
    (T.SIZE, "8½ x 11 Inch", "8 1/2 in x 11 in"),
    (T.MODEL_NUMBER, "1001-110", "1001110"),
])
def test_canonical_keys(entity_type: EntityType, surface: str, key: str) -> None:
    assert canonical_key(entity_type, surface) == key


@pytest.mark.parametrize(("title", "expected"), [
    ("Southwire 14 AWG Wire, 600V Rated", {(T.FEATURE, "14 AWG"), (T.FEATURE, "600V")}),
    ('Brass Hex Nipple, 1/4" NPT Male, 600 PSI', {(T.SIZE, '1/4"'), (T.FEATURE, "NPT"), (T.FEATURE, "600 PSI")}),
    ("PTFE Tape, ISO 9001 Certified", {(T.FEATURE, "ISO 9001")}),
    ("Junction Box IP67, UL Listed", {(T.FEATURE, "IP67"), (T.FEATURE, "UL Listed")}),
    ("Extension Cord 13A 125V 1625W", {(T.FEATURE, "13A"), (T.FEATURE, "125V"), (T.FEATURE, "1625W")}),
    ("Syringe Filter, 0.22 um, 10µm mesh", {(T.SIZE, "0.22 um"), (T.SIZE, "10µm")}),
    ('Drill Bit Set, 1/16" to 1/2"', {(T.SIZE, '1/16" to 1/2"')}),
    ("Caliper 0-6 inch", {(T.SIZE, "0-6 inch")}),
    ("Cap Screws M6 x 20mm", {(T.SIZE, "M6 x 20mm")}),
    ("Cut Resistant Gloves Level A4, ANSI/ISEA 105", {(T.FEATURE, "Level A4"), (T.FEATURE, "ANSI/ISEA 105")}),
    ('Ball Valve 3/4" FNPT, 600 WOG', {(T.FEATURE, "FNPT"), (T.FEATURE, "600 WOG")}),
    ("Impact Wrench, 800 ft-lbs Torque", {(T.FEATURE, "800 ft-lbs")}),
    ("316L Stainless Steel Filter Disc", {(T.FEATURE, "316L")}),
    ("Enclosure NEMA 4X, UL 508A", {(T.FEATURE, "NEMA 4X"), (T.FEATURE, "UL 508A")}),
    ("Foam Earplugs, NRR 32", {(T.FEATURE, "NRR 32")}),
])
def test_units_standards_and_ratings(title: str, expected: set[tuple[EntityType, str]]) -> None:
    spans = {(t, title[s:e]) for t, s, e, _, _ in LexiconExtractor(Lexicon([], [])).spans(title, is_title=True)}
    assert expected <= spans
    assert not any(t is T.MODEL_NUMBER for t, _ in spans), spans  # standards and ratings are not model numbers


def test_a_lone_ampere_code_stays_a_model_number() -> None:
    """HP 83A is a toner, not 83 amperes; 30A beside 12V is a rating."""
    spans = LexiconExtractor(Lexicon([], [])).spans("HP 83A Toner Cartridge", is_title=True)
    assert (T.MODEL_NUMBER, "83A") in {(t, "HP 83A Toner Cartridge"[s:e]) for t, s, e, _, _ in spans}


@pytest.mark.parametrize(("title", "number"), [
    ("Milwaukee 48-22-8424 PACKOUT Tool Box", "48-22-8424"), ("Whatman 1001-110 Filter Paper", "1001-110"),
    ("Gorilla 6055002 Mounting Tape", "6055002"), ("Wera 05073593001 Screwdriver Set", "05073593001"),
])
def test_a_part_number_after_a_brand_is_a_model_number(title: str, number: str) -> None:
    brand = title.split()[0]
    spans = LexiconExtractor(Lexicon([brand], [])).spans(title, is_title=True)
    assert (T.MODEL_NUMBER, number) in {(t, title[s:e]) for t, s, e, _, _ in spans}


def test_a_number_with_a_unit_after_a_brand_is_not_a_model_number() -> None:
    for title in ("Milwaukee 12 Packs of Blades", "Uline 250 pcs Mailers", "Stanley 25 ft Tape"):
        spans = LexiconExtractor(Lexicon([title.split()[0]], [])).spans(title, is_title=True)
        assert not any(t is T.MODEL_NUMBER for t, *_ in spans), title


def test_industrial_titles_get_their_own_vocabulary() -> None:
    """The issue's case: "Printer" read as what filament is; nitrile, PTFE, caliper unknown."""
    extractor = LexiconExtractor(Lexicon([], []))
    text = "3D Printer Filament PLA, Nitrile Exam Gloves, PTFE Thread Seal Tape, Digital Caliper"
    found = {(t, text[s:e]) for t, s, e, _, _ in extractor.spans(text, is_title=True)}
    assert {(T.PRODUCT_TYPE, "Filament"), (T.MATERIAL, "PLA"), (T.MATERIAL, "Nitrile"), (T.PRODUCT_TYPE, "Exam Gloves"),
            (T.MATERIAL, "PTFE"), (T.PRODUCT_TYPE, "Thread Seal Tape"), (T.PRODUCT_TYPE, "Caliper")} <= found
    assert (T.PRODUCT_TYPE, "Printer") not in found


def test_a_product_type_after_for_is_what_it_is_made_for() -> None:
    extractor = LexiconExtractor(Lexicon([], ["Filament", "Printer", "Refill"]))
    text = "PLA Filament for 3D Printer"
    types = {text[s:e] for t, s, e, _, _ in extractor.spans(text, is_title=True) if t is T.PRODUCT_TYPE}
    assert types == {"Filament"}


def test_singular_keeps_words_that_only_look_plural() -> None:
    assert [singular(w) for w in ("scissors", "glass", "brushes", "boxes", "lashes", "series", "women")] == [
        "scissors", "glass", "brush", "box", "lash", "series", "woman"]


def test_types_parse_from_model_labels_and_unknown_ones_do_not() -> None:
    assert parse_type("B-product_type") is T.PRODUCT_TYPE and parse_type("Model Number") is T.MODEL_NUMBER
    assert parse_type("PER") is None and parse_type("celebrity") is None


def test_resolver_merges_spacing_variants_and_similar_names_only_with_both_signals() -> None:
    known = [KnownEntity("paper-mate", "paper mate", "Paper Mate", T.BRAND),
             KnownEntity("eyeliner", "eyeliner", "Eyeliner", T.PRODUCT_TYPE),
             KnownEntity("hp-61", "hp 61", "HP 61", T.COMPATIBLE_WITH)]
    close = EntityResolver(known, similarity=lambda a, b: 0.95)
    assert close.find(T.BRAND, "papermate") is not None  # equal without spaces: no similarity needed
    assert close.find(T.PRODUCT_TYPE, "eye liner") is not None
    assert close.find(T.PRODUCT_TYPE, "eyeliners") is not None and close.merged == {"eyeliners": "eyeliner"}
    assert close.find(T.COMPATIBLE_WITH, "hp 62") is None  # digits differ: never merged
    far = EntityResolver(known, similarity=lambda a, b: 0.3)
    assert far.find(T.PRODUCT_TYPE, "eyeliners") is None
    assert EntityResolver(known, similarity=None).find(T.PRODUCT_TYPE, "eyeliners") is None


def test_lexicon_extractor_on_real_titles() -> None:
    extractor = LexiconExtractor(Lexicon(["Paper Mate", "Swingline", "HP", "Duo", "NYX"], ["Eyeliner"]))
    items = [
        TextItem("a", {"title": "Paper Mate InkJoy Gel Pens, Fine Point, Dark Blue, 12 Count"}),
        TextItem("b", {"title": "Swingline Stapler, Optima 40, 40 Sheet Capacity, Orange/Silver/Black (87842)"}),
        TextItem("c", {"title": "HP 61 Black Ink Cartridge (CH561WN)"}),
        TextItem("d", {"title": "nyx cream blush tea rose"}),
    ]
    found = [{(m.type.value, m.text) for m in r.mentions} for r in extractor.extract_batch(items)]
    assert found[0] == {("brand", "Paper Mate"), ("product_type", "Gel Pens"), ("feature", "Fine Point"),
                        ("color", "Dark Blue"), ("quantity", "12 Count")}
    assert {("brand", "Swingline"), ("feature", "40 Sheet Capacity"), ("color", "Orange"), ("color", "Black"),
            ("model_number", "87842")} <= found[1]
    assert found[2] == {("brand", "HP"), ("model_number", "61"), ("color", "Black"),
                        ("product_type", "Ink Cartridge"), ("model_number", "CH561WN")}
    assert ("brand", "nyx") in found[3] and ("product_type", "blush") in found[3]
    assert extractor.model_calls == 0


# -- the pipeline on a real graph ------------------------------------------------------------------------

PRODUCTS = {
    "p1": ("HP 61 Black Ink Cartridge (CH561WN)", "Genuine HP ink for DeskJet 1000. Prints up to 190 pages."),
    "p2": ("Hewlett-Packard 61 Black Ink Cartridges, 2-Pack", None),
    "p3": ("Paper Mate InkJoy Gel Pens, Fine Point, Dark Blue, 12 Count", "<p>Quick drying <b>gel ink</b></p>"
           "<!-- .css {color: red} -->&amp; comfort grip"),
    "empty": (None, None),
    "huge": ("Avery Durable Binder, 2 Inch", "Holds 500 sheets. " * 3000),
    "non_english": ("得力 中性笔 黑色 0.5mm 12支装", "日本製のボールペン。書きやすい。"),
}


def add_products(store: GraphStore, products: dict[str, tuple[str | None, str | None]]) -> None:
    rows = []
    for pid, (title, description) in products.items():
        text = clean_product_text(title, description)
        rows.append({"id": pid, "title": text.title, "description": text.description, "text_hash": text.text_hash,
                     "active": True})
    store.upsert_nodes(NodeLabel.PRODUCT, rows)
    store.upsert_nodes(NodeLabel.BRAND, [{"id": "hp", "name": "HP"}, {"id": "paper-mate", "name": "Paper Mate"},
                                         {"id": "avery", "name": "Avery"}])


def mentions(store: GraphStore, pid: str) -> dict[str, dict[str, Any]]:
    rows = store.query("MATCH (p:Product {id: $id})-[m:MENTIONS]->(e:Entity) RETURN e.id AS id, e.type AS type, "
                       "m.source AS source, m.extractor AS extractor, m.confidence AS confidence, "
                       "m.surface AS surface", {"id": pid})
    return {r["id"]: r for r in rows}


def test_extraction_links_typed_deduplicated_entities_and_reruns_only_changed_text(store: GraphStore) -> None:
    store.init_schema()
    add_products(store, PRODUCTS)
    # Text written by another tool, not cleaned by ingest: markup and CSS must not become entities.
    store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "raw_html", "title": "<b>Avery</b> Binder", "text_hash": "x",
                                            "description": "<style>.a {color: red}</style><p>Acid-free &amp; "
                                                           "durable</p><!-- .b {color: blue} -->"}])
    extractor = LexiconExtractor(Lexicon(["HP", "Paper Mate", "Avery"]))
    first = extract_into(store, extractor)
    assert first.products_processed == len(PRODUCTS) + 1 and first.products_failed == 0
    assert first.input_problems == {"empty text (no title, no description)": 1,
                                    "description cut to 5000 characters": 1,
                                    "mostly non-Latin script (extracted anyway)": 1,
                                    "markup cleaned again": 2}
    assert set(mentions(store, "raw_html")) == {"avery", "binder", "acid-free", "durable"}
    p1, p2 = mentions(store, "p1"), mentions(store, "p2")
    assert p1["hp"]["type"] == "brand" and p1["hp"]["source"] == "title"
    assert p1["hp"]["extractor"] == f"lexicon@{LexiconExtractor.VERSION}"
    assert p2["hp"]["surface"] == "Hewlett-Packard"  # the alias resolved to the same node
    assert {"ink-cartridge", "61", "black"} <= set(p1) & set(p2)  # one node per entity, shared
    assert p1["deskjet-1000"]["type"] == "compatible_with" and p1["deskjet-1000"]["source"] == "description"
    assert p2["2-count"]["type"] == "quantity"
    assert "quick-drying" in mentions(store, "p3") and "gel-ink" in mentions(store, "p3")
    assert "0.5-mm" in mentions(store, "non_english")
    assert mentions(store, "empty") == {}
    n_entities = store.count_nodes()["Entity"]
    assert n_entities == first.entities_new
    assert sum(first.entities_new_by_type.values()) == first.entities_new

    again = extract_into(store, extractor)
    assert again.products_unchanged == len(PRODUCTS) + 1 and again.products_processed == 0
    assert store.count_nodes()["Entity"] == n_entities

    add_products(store, {"p2": ("Hewlett-Packard 62 Tri-color Ink Cartridge", None)})
    third = extract_into(store, extractor)
    assert third.products_processed == 1
    p2 = mentions(store, "p2")
    assert "62" in p2 and "61" not in p2 and "2-count" not in p2
    assert third.orphan_entities_deleted >= 1  # "2 count" was only p2's
    assert third.mentions_linked_existing >= 2  # hp, ink cartridge were known


def llm_reply(body: dict[str, Any]) -> tuple[int, str]:
    items = []
    for p in products_of(body):
        if "Paper Mate" in p.get("title", ""):
            return 200, "Sorry, I can't do that"  # this product's batch never gets JSON
        words = p["title"].split()
        items.append({"i": p["i"], "entities": [{"type": "brand", "text": words[0]},
                                                 {"type": "emotion", "text": words[-1]}]})
    return 200, json.dumps({"items": items})


def test_rerun_on_unchanged_text_makes_no_model_calls_and_bad_replies_keep_the_product(
        store: GraphStore, tmp_path: Path) -> None:
    store.init_schema()
    add_products(store, PRODUCTS)
    with FakeServer(llm_reply) as server:
        config = LLMConfig(url=server.url, model="fake", batch_size=1, max_retries=1, backoff_s=0.01)
        first = extract_into(store, LLMExtractor(config))  # no cache: incrementality must come from the hash
        assert first.model_calls == len(server.requests) > 0
        assert first.errors == {"bad LLM reply": 1} and first.products_failed == 1
        assert first.extractor_notes["unknown entity type in LLM reply"] == len(PRODUCTS) - 2  # empty, failed
        assert store.count_nodes()["Product"] == len(PRODUCTS)
        assert mentions(store, "p1")["hp"]["extractor"] == "llm:fake@extract-v1.s1"
        calls = len(server.requests)

        second = extract_into(store, LLMExtractor(config))
        assert second.products_to_extract == 1  # only the product whose extraction failed is retried
        assert len(server.requests) - calls == second.model_calls == 2  # one request + one retry

        server.reply = lambda body: llm_reply(body) if "Paper Mate" not in str(body) else (200, json.dumps(
            {"items": [{"i": 0, "entities": [{"type": "brand", "text": "Paper Mate"}]}]}))
        third = extract_into(store, LLMExtractor(config))
        assert third.products_processed == 1 and third.products_failed == 0
        calls = len(server.requests)
        fourth = extract_into(store, LLMExtractor(config))
        assert fourth.products_unchanged == len(PRODUCTS) and fourth.model_calls == 0
        assert len(server.requests) == calls


def run_cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_cli_extract_on_the_sample(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   ) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARTOGRAPH_NEO4J_URI", raising=False)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    run_cli("quickstart", "--no-progress", "--no-extract", "--no-train")
    result = run_cli("extract", "--extractor", "lexicon", "--no-merge-embeddings", "--json")
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["products_processed"] == summary["products_total"] == 2500
    assert summary["entities_new"] > 500 and summary["errors"] == {}
    assert set(summary["mentions_by_type"]) == {t.value for t in EntityType}
    again = json.loads(run_cli("extract", "--extractor", "lexicon", "--json").stdout)
    assert again["products_unchanged"] == 2500 and again["products_processed"] == 0


def test_cli_llm_without_endpoint_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CARTOGRAPH_LLM_URL", raising=False)
    result = CliRunner().invoke(app, ["extract", "--extractor", "llm"])
    assert result.exit_code == 1 and "CARTOGRAPH_LLM_URL" in result.output



def test_a_department_category_is_no_product_type_so_its_audience_word_stays_an_audience() -> None:
    # "Men" (a Beauty department) singularises to "man": as a product type it displaced the audience word, and
    # "for men" after a product type was then dropped as what the product is made for.
    extractor = LexiconExtractor(Lexicon([], ["Men", "Women", "Shaving & Hair Removal"]))
    for text, audience in (("razor for men", "men"), ("razor for women", "women")):
        spans = [(t, text[s:e]) for t, s, e, _, _ in extractor.spans(text, is_title=False)]
        assert spans == [(EntityType.PRODUCT_TYPE, "razor"), (EntityType.AUDIENCE, audience)]
