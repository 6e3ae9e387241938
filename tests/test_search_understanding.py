"""Search understanding and ranking on a hand-made catalog (no bundle, no MiniLM): spelling, plurals, brand,
type, colour, audience, price, negation, any script, no-match answers, the constraint guarantee against
personalisation, the ranker artefact and the feedback log."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from api.feedback import FeedbackLog, feedback_labels
from api.ranker_training import LABEL_GAIN, Groups, LabelsError, cross_validate, ndcg_at, read_labels, train_ranker
from api.routes.validation import check_query_text
from api.serving.bm25 import BM25Index
from api.serving.catalog import Catalog, Csr
from api.serving.features import FEATURES, Retrieval, feature_matrix
from api.serving.filters import FilterResolver
from api.serving.index import ServingIndex
from api.serving.linking import EntityLinker
from api.serving.negation import parse_negations
from api.serving.price import parse_price
from api.serving.ranker import (
    FALLBACK_PERSONAL_WEIGHT,
    FALLBACK_WEIGHTS,
    WeightedRanker,
    fallback_ranker,
    load_ranker,
    ranker_dir,
    save_ranker,
)
from api.serving.search import (
    NO_MATCH,
    NO_TYPE,
    final_order,
    free_terms,
    matches_nothing,
    meaning_similarity,
    no_match_reason,
    search,
    tie_runs,
    user_interest,
)
from api.serving.spelling import SpellCorrector, english_words, names_only_inside
from api.serving.text import terms, tokens
from api.serving.understand import Constraint, QueryParser, head_span, title_head
from kg.extract.lexicon import Lexicon, LexiconExtractor

PRODUCTS = [  # title, brand, category, price
    ("maybelline eyestudio gel eyeliner black", "Maybelline", "Eyeliner", 8.0),
    ("maybelline great lash mascara", "Maybelline", "Mascara", 6.0),
    ("revlon colorstay eyeliner pencil", "Revlon", "Eyeliner", 9.0),
    ("evermarket liquid eyeliner waterproof", "Evermarket", "Eyeliner", 4.0),
    ("nyx matte lipstick red", "NYX", "Lipstick", 5.0),
    ("revlon super lustrous lipstick red", "Revlon", "Lipstick", 12.0),
    ("nyx lipstick nude", "NYX", "Lipstick", 7.0),
    ("suave kids shampoo", "Suave", "Shampoo", 3.0),
    ("suave shampoo daily clarifying", "Suave", "Shampoo", 4.0),
    ("cerave fragrance free moisturizing lotion", "CeraVe", "Lotion", 15.0),
    ("vaseline lotion with fragrance", "Vaseline", "Lotion", 5.0),
    ("jergens lotion cherry almond", "Jergens", "Lotion", 6.0),
    ("口红 红色 唇膏", "NYX", "Lipstick", 9.0),
    ("clear shampoo for men", "Clear", "Shampoo", 8.0),
    ("loreal paris colour riche lipstick", "L'Oreal Paris", "Lipstick", 11.0),
]


def _index(prices: bool = True, descriptions: dict[int, str] | None = None) -> ServingIndex:
    """The catalog of :data:`PRODUCTS`; ``descriptions`` adds text after some titles (product index -> text)."""
    n = len(PRODUCTS)
    brands = sorted({p[1] for p in PRODUCTS})
    cats = sorted({p[2] for p in PRODUCTS})
    b = np.array([brands.index(p[1]) for p in PRODUCTS])
    cat = np.array([cats.index(p[2]) for p in PRODUCTS])
    rows = np.arange(n)
    empty = Csr.from_pairs(np.zeros(0), np.zeros(0), n)
    titles = [p[0] for p in PRODUCTS]
    catalog = Catalog(
        product_ids=[f"p{i}" for i in range(n)], titles=titles,
        texts=[f"{t} {(descriptions or {}).get(i, '')}".strip() for i, t in enumerate(titles)],
        active=np.ones(n, dtype=bool),
        price=np.array([p[3] if prices else np.nan for p in PRODUCTS]),
        node_ids={"brand": [x.lower() for x in brands], "category": [x.lower() for x in cats], "entity": []},
        node_names={"brand": brands, "category": cats, "entity": []},
        attributes={"brand": Csr.from_pairs(rows, b, n), "category": Csr.from_pairs(rows, cat, n), "entity": empty},
        members={"brand": Csr.from_pairs(b, rows, len(brands)), "category": Csr.from_pairs(cat, rows, len(cats)),
                 "entity": Csr.from_pairs(np.zeros(0), np.zeros(0), 0)},
        links={"also_bought": empty, "also_viewed": empty, "bought_together": empty},
        user_ids=[], history=Csr.from_pairs(np.zeros(0), np.zeros(0), 0), history_kind=np.zeros(0, np.int8),
        popularity=np.arange(n, dtype=np.float32), source="store",
    )
    bm25, linker = BM25Index(catalog.texts), EntityLinker(catalog)
    emb = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    return ServingIndex(
        version="v1", model="test", created="", catalog=catalog, product_emb=emb, product_unit=emb,
        has_embedding=np.ones(n, dtype=bool), recommendable=np.ones(n, dtype=bool),
        user_emb=np.zeros((0, 8), np.float32), user_index={}, text_emb=None, title_emb=None, bm25=bm25,
        linker=linker,
        filters=FilterResolver(catalog), parser=QueryParser(catalog, bm25, linker), ranker=fallback_ranker())


_shared_index = functools.cache(_index)


@pytest.fixture(scope="module")
def index() -> ServingIndex:
    return _shared_index()


def _ids(index: ServingIndex, q: str, k: int = 10, **kw: object) -> list[str]:
    return [index.catalog.product_ids[h.index] for h in search(index, q, k, encoder=None, **kw).hits]  # type: ignore[arg-type]


def _user_loving(index: ServingIndex, product: int) -> np.ndarray:
    return np.asarray(index.product_emb[product] * 100.0, dtype=np.float32)


# -- brand, type, plurals, spelling ----------------------------------------------------------------------
def test_a_typed_brand_ranks_first_even_against_personalisation(index: ServingIndex) -> None:
    plain = _ids(index, "maybelline eyeliner")
    assert plain[0] == "p0"
    for lover in (2, 3):  # a user whose model loves the Revlon / Evermarket eyeliner
        personal = _ids(index, "maybelline eyeliner", user_vector=_user_loving(index, lover), personal_weight=10)
        assert personal[0] == "p0", personal
        assert personal.index("p0") < personal.index(f"p{lover}")


def test_personalisation_never_lifts_a_product_breaking_more_constraints() -> None:
    index = _index()
    rng = np.random.default_rng(1)
    for q in ("maybelline eyeliner", "red lipstick", "kids shampoo", "revlon lipstick red"):
        u = index.parser.parse(q)
        keeps = [c.keep for c in u.of("rank")]
        for _ in range(20):
            hits = search(index, q, 20, encoder=None, user_vector=rng.normal(size=8).astype(np.float32) * 50,
                          personal_weight=float(rng.uniform(0, 10))).hits
            tiers = [sum(bool(k[h.index]) for k in keeps if k is not None) for h in hits]
            assert tiers == sorted(tiers, reverse=True), (q, tiers)


def test_plurals_meet_singulars(index: ServingIndex) -> None:
    assert terms("eyeliners lipsticks") == ["eyeliner", "lipstick"]
    u = index.parser.parse("maybelline eyeliners")
    assert [(c.kind, c.value) for c in u.of("rank")] == [("brand", "Maybelline"), ("product_type", "eyeliner")]
    assert _ids(index, "maybelline eyeliners")[0] == "p0"


def test_misspelled_brand_is_corrected_against_the_catalog(index: ServingIndex) -> None:
    result = search(index, "maybeline eyeliner", 5, encoder=None)
    u = result.understanding
    assert u is not None
    assert [(c.original, c.corrected) for c in u.corrections] == [("maybeline", "maybelline")]
    assert u.corrected == "maybelline eyeliner"
    assert index.catalog.product_ids[result.hits[0].index] == "p0"


def test_a_brand_that_is_also_a_colour_is_read_as_the_colour(index: ServingIndex) -> None:
    u = index.parser.parse("clear lipstick")
    assert [(c.kind, c.value) for c in u.of("rank")] == [("color", "clear"), ("product_type", "lipstick")]


def test_known_words_are_never_corrected(index: ServingIndex) -> None:
    assert not index.parser.parse("nyx lipstick nude").corrections
    u = index.parser.parse("L'Oréal lipstik")
    assert [(c.original, c.corrected) for c in u.corrections] == [("lipstik", "lipstick")]
    assert u.corrected == "L'Oréal lipstick" and u.unknown_words == []


def test_a_correctly_spelled_english_word_is_not_corrected_into_a_catalog_word(index: ServingIndex) -> None:
    assert {"helmet", "printer", "motion"} <= english_words() and "lipstik" not in english_words()
    u = index.parser.parse("motion lotoin")  # "motion" is one edit from "lotion", but a word in its own right
    assert [(c.original, c.corrected) for c in u.corrections] == [("lotoin", "lotion")]
    assert u.unknown_words == ["motion"]
    speller = SpellCorrector({"elmer": 50, "primer": 70, "epson": 60}, real_words={"helmet", "printer", "epsom"},
                             brand_names={"epson"})
    assert speller.correct("helmet") is None and speller.correct("printer") is None
    assert speller.correct("epsom") == "epson"  # a real word one edit from a one-word brand: a slip
    assert speller.correct("primr") == "primer"  # not a word: corrected as before
    assert SpellCorrector({"elmer": 50}).correct("helmet") == "elmer"  # what the English list prevents


def test_a_misspelled_plural_is_corrected_through_its_singular() -> None:
    speller = SpellCorrector({"highlighter": 40, "battery": 30})
    # three edits from "highlighter" as typed, two without its plural ending: corrected, the ending given back
    assert speller.correct("hilighters") == "highlighters"
    assert speller.correct("hilighter") == "highlighter"
    assert speller.correct("baterries") == "battery"  # "-ies" has no ending to give back: the singular answers
    assert speller.correct("hxxxxxxters") is None


def test_a_word_used_only_inside_a_longer_name_is_no_correction_target() -> None:
    docs = {"dr": [1, 2], "dennis": [1, 2], "gross": [1, 2, 5], "epson": [3, 4, 6], "inks": [3, 4]}
    def docs_with(w: str) -> np.ndarray:
        return np.array(docs.get(w, []), dtype=np.int64)
    names = [["dr", "dennis", "gross"], ["epson"], ["epson", "inks"], ["tangle", "teezer"]]
    # "gross" and "epson" appear without the rest of their name; "epson" is also a whole name
    assert names_only_inside(names, docs_with) == {"dr", "dennis", "inks", "tangle", "teezer"}
    assert SpellCorrector({"dennis": 11}).correct("dennix") == "dennis"
    speller = SpellCorrector({"dennis": 11}, not_targets={"dennis"})
    assert speller.known("dennis") and speller.correct("dennix") is None


def test_the_head_type_is_the_last_before_any_post_modifier() -> None:
    def head(text: str, *types: str) -> str:
        spans = [(text.index(t), text.index(t) + len(t), Constraint("product_type", t, t, "rank")) for t in types]
        return head_span(text, spans).value
    assert head("gel nail polish uv lamp", "nail polish", "lamp") == "lamp"
    assert head("eye shadow palette", "eye shadow", "palette") == "palette"
    assert head("brush for eyeliner", "brush", "eyeliner") == "brush"
    assert head("refills for ballpoint pen", "refill", "ballpoint pen") == "refill"
    assert head("shampoo for kids", "shampoo") == "shampoo"
    assert head("for dry skin lotion", "lotion") == "lotion"  # no type before the preposition


# -- colour, price, audience, negation ------------------------------------------------------------------
def test_colour_ranks_and_price_filters(index: ServingIndex) -> None:
    result = search(index, "red lipstick under 10 dollars", 10, encoder=None)
    u = result.understanding
    assert u is not None
    kinds = {(c.kind, c.value, c.how) for c in u.constraints}
    assert {("color", "red", "rank"), ("product_type", "lipstick", "rank"), ("price", "<= 10", "filter")} <= kinds
    ids = [index.catalog.product_ids[h.index] for h in result.hits]
    assert ids[0] == "p4"  # red, lipstick, 5 dollars; p5 is red but 12 dollars
    assert "p5" not in ids and all(index.catalog.price[h.index] <= 10 for h in result.hits)


def test_price_is_said_back_where_the_catalog_has_none() -> None:
    u = _index(prices=False).parser.parse("red lipstick under $10")
    price = [c for c in u.constraints if c.kind == "price"]
    assert [(c.how, c.note) for c in price] == [("not_applied", "this catalog has no prices")]
    assert u.filter_mask is None


@pytest.mark.parametrize(("q", "bounds", "rest"), [
    ("red lipstick under 10 dollars", (None, 10.0), "red lipstick"),
    ("lipstick under $9.99", (None, 9.99), "lipstick"),
    ("shampoo between 5 and 15", (5.0, 15.0), "shampoo"),
    ("lipstick $5-$15", (5.0, 15.0), "lipstick"),
    ("lotion over 20", (20.0, None), "lotion"),
    ("cheap mascara", (None, 4.5), "mascara"),
])
def test_price_phrases(q: str, bounds: tuple[float | None, float | None], rest: str) -> None:
    price, text = parse_price(q, cheap_max=4.5)
    assert price is not None and (price.min, price.max) == bounds and text == rest


@pytest.mark.parametrize("q", ["3-5 ft ruler", "up to 24 hours wear", "under 5 ml", "from paris"])
def test_numbers_that_are_not_prices(q: str) -> None:
    assert parse_price(q, cheap_max=4.5) == (None, q)


def test_audience_is_recognised_and_ranks(index: ServingIndex) -> None:
    u = index.parser.parse("shampoo for kids")
    assert ("audience", "kid") in {(c.kind, c.value) for c in u.of("rank")}
    assert _ids(index, "shampoo for kids")[0] == "p7"


@pytest.mark.parametrize("q", ["lotion without fragrance", "fragrance free lotion", "fragrance-free lotion"])
def test_negation_filters_out_what_the_user_excluded(index: ServingIndex, q: str) -> None:
    ids = _ids(index, q)
    assert "p10" not in ids  # "with fragrance"
    assert ids[0] == "p9"  # says "fragrance free": it keeps the positive constraint too
    assert "p11" in ids  # never mentions fragrance: allowed


def test_negation_parser() -> None:
    negs, rest = parse_negations("paraben-free shampoo without sulfates")
    assert [n.word for n in negs] == ["paraben", "sulfate"] and rest == "shampoo"
    assert parse_negations("No7 serum") == ([], "No7 serum")


# -- scripts, no match ---------------------------------------------------------------------------------
def test_any_script_is_tokenised_and_searched(index: ServingIndex) -> None:
    assert check_query_text("口红") == "口红"
    assert tokens("口红笔 red") == ["口红", "红笔", "red"]
    assert _ids(index, "口红")[0] == "p12"


def test_a_query_matching_nothing_answers_no_items_and_suggestions(index: ServingIndex) -> None:
    for q in ("xqzv blorf", "мыло"):
        result = search(index, q, 10, encoder=None)
        assert result.hits == [] and result.suggestions, q
    result = search(index, "lipstik", 10, encoder=None)  # close to a catalog word: corrected, not empty
    assert result.hits and result.understanding is not None and result.understanding.corrections


def test_a_filter_that_leaves_nothing_suggests_the_query_without_it(index: ServingIndex) -> None:
    result = search(index, "revlon lipstick under 3 dollars", 10, encoder=None)
    assert result.hits == [] and "revlon lipstick" in result.suggestions


def test_a_price_alone_that_leaves_nothing_suggests_categories(index: ServingIndex) -> None:
    result = search(index, "0$", 10, encoder=None)  # found by the fuzz test below: no words left to suggest
    assert result.hits == [] and result.suggestions and "" not in result.suggestions


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.text(max_size=60) | st.lists(st.sampled_from(
    ["under", "$10", "without", "free", "-", "red", "maybeline", "口红", "for", "kids", "lipstick", "cheap", "between",
     "5", "and", "no", "eyeliners", "Ä", "l'oréal", "20", "dollars", "over"]), max_size=8).map(" ".join))
def test_any_text_is_understood_and_filters_hold(q: str) -> None:
    index = _shared_index()
    result = search(index, q, 10, encoder=None, user_vector=np.ones(8, np.float32))
    u = result.understanding
    assert u is not None
    for c in u.of("filter"):
        assert c.keep is not None and all(c.keep[h.index] for h in result.hits), (q, c)
    assert result.hits or result.suggestions or not index.catalog.active.any()


# -- ranker artefact, training, feedback ----------------------------------------------------------------
def test_weighted_ranker_refuses_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown ranking features"):
        WeightedRanker({"nope": 1.0})


def test_ranker_trains_saves_and_loads(index: ServingIndex, tmp_path: Path) -> None:
    labels = [("maybelline eyeliner", "p0", 3), ("maybelline eyeliner", "p2", 1), ("red lipstick", "p4", 3),
              ("red lipstick", "p5", 3), ("red lipstick", "p6", 1), ("kids shampoo", "p7", 3),
              ("lotion", "p9", 2), ("lotion", "p11", 2)]
    report = train_ranker(index, None, labels, tmp_path, rounds=10)
    assert report["train_queries"] == 4 and set(report["train_ndcg@10"]) == {"lambdarank", "weights"}
    ranker, note = load_ranker(tmp_path)
    assert note is None and ranker.name.startswith("lambdarank@")
    assert ranker.score(np.zeros((3, len(FEATURES)), np.float32)).shape == (3,)
    meta = json.loads((ranker_dir(tmp_path) / "meta.json").read_text())
    save_ranker(tmp_path, (ranker_dir(tmp_path) / "model.txt").read_text(), {**meta})
    (ranker_dir(tmp_path) / "meta.json").write_text(json.dumps({**meta, "features": ["other"]}))
    fallback, note = load_ranker(tmp_path)
    assert fallback.name == "weights" and note and "other features" in note


def test_a_retrained_ranker_keeps_the_settings_tuned_on_judged_queries(index: ServingIndex, tmp_path: Path) -> None:
    labels = [("maybelline eyeliner", "p0", 3), ("maybelline eyeliner", "p2", 1), ("red lipstick", "p4", 3),
              ("red lipstick", "p6", 1), ("kids shampoo", "p7", 3), ("lotion", "p9", 2)]
    report = train_ranker(index, None, labels, tmp_path, rounds=10)
    assert "personal_weight" not in report  # nothing tuned yet: the fallbacks serve
    assert load_ranker(tmp_path)[0].personal_weight == FALLBACK_PERSONAL_WEIGHT
    meta = json.loads((ranker_dir(tmp_path) / "meta.json").read_text())
    assert load_ranker(tmp_path)[0].personal_tie_band is None and load_ranker(tmp_path)[0].personal_gate is None
    tuned = {**meta, "trained": "20261206T000000Z", "personal_weight": 0.1, "no_match_similarity": 0.25,
             "personal_tie_band": 0.3, "personal_gate": 2.0}
    save_ranker(tmp_path, (ranker_dir(tmp_path) / "model.txt").read_text(), tuned)  # as bench/search_ranker.py saves
    report = train_ranker(index, None, labels, tmp_path, rounds=10)  # e.g. on feedback, after a rebuild
    assert (report["personal_weight"], report["no_match_similarity"], report["personal_tie_band"],
            report["personal_gate"]) == (0.1, 0.25, 0.3, 2.0)
    assert report["tuned_with"] == "20261206T000000Z"
    ranker = load_ranker(tmp_path)[0]
    assert (ranker.personal_weight, ranker.no_match_similarity, ranker.personal_tie_band,
            ranker.personal_gate) == (0.1, 0.25, 0.3, 2.0)
    again = train_ranker(index, None, labels, tmp_path, rounds=10)
    assert again["tuned_with"] == "20261206T000000Z"  # the ranker they were tuned with, however many retrains on


def test_labels_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"query": "q", "product_id": "p0", "grade": "E"}\n{"query": "q", "grade": 2}\n')
    with pytest.raises(LabelsError, match=r"labels.jsonl:2"):
        read_labels(path)
    path.write_text('{"query": "q", "product_id": "p0", "grade": "E"}\n')
    assert read_labels(path) == [("q", "p0", 3)]


def test_feedback_log_becomes_graded_labels(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback" / "search.jsonl")
    log.search("a" * 32, "red lipstick", "u1", ["p4", "p5", "p6", "p1"])
    log.event("a" * 32, "u1", "p6", 3, "cart")
    log.event("a" * 32, "u1", "p4", 1, "click")
    log.event("b" * 32, "u1", "p4", 1, "click")  # a query id never logged: ignored
    with (tmp_path / "feedback" / "search.jsonl").open("a") as f:
        f.write('{"kind": "ev')  # a torn last line
    assert sorted(feedback_labels(log.path)) == [("red lipstick", "p4", 1), ("red lipstick", "p5", 0),
                                                 ("red lipstick", "p6", 2)]


def test_ranker_training_command_says_when_there_is_nothing_to_learn_from(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cartograph.cli import app

    env = {"CARTOGRAPH_HOME": str(tmp_path), "CARTOGRAPH_STORE_BACKEND": "embedded"}
    result = CliRunner().invoke(app, ["search-ranker", "train"], env=env)
    assert result.exit_code == 1 and "no labels" in result.output
    bad = tmp_path / "labels.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(app, ["search-ranker", "train", "--labels", str(bad)], env=env)
    assert result.exit_code == 1 and "labels.jsonl:1" in result.output


# -- learned final stage: no-match decision, personal weight, constraint order -------------------------
def _features(**cols: list[float]) -> np.ndarray:
    n = len(next(iter(cols.values())))
    out = np.zeros((n, len(FEATURES)), np.float32)
    for name, values in cols.items():
        out[:, FEATURES.index(name)] = values
    return out


def test_no_match_is_decided_from_word_constraint_and_similarity_features() -> None:
    two_words = {"query_terms": [2.0, 2.0], "constraints": [1.0, 1.0]}
    weak = _features(**two_words, text_cover=[0.5, 0.0], all_kept=[0.0, 0.0], dense=[0.40, 0.52])
    assert matches_nothing(weak, 0.55)  # "dog food": one word known, no type kept, nothing similar enough
    assert not matches_nothing(weak, 0.50)  # a product above the floor by meaning alone is a match
    assert not matches_nothing(_features(**two_words, text_cover=[1.0, 0.5], dense=[0.1, 0.1]), 0.55)
    assert not matches_nothing(_features(**two_words, all_kept=[0.0, 1.0], dense=[0.1, 0.1]), 0.55)
    # "car battery": a battery-powered sharpener keeps the type, but "car" is in no such product and none is
    # near the query in meaning; a product near it in meaning keeps the match
    kept = _features(**two_words, all_kept=[0.0, 1.0], dense=[0.1, 0.3])
    assert no_match_reason(kept, 0.55, np.array([0.0, 0.0])) == NO_MATCH
    assert no_match_reason(kept, 0.55, np.array([0.0, 1.0])) is None
    assert no_match_reason(_features(**two_words, all_kept=[0.0, 1.0], dense=[0.1, 0.5]), 0.55,
                           np.array([0.0, 0.0])) is None
    assert matches_nothing(np.zeros((0, len(FEATURES)), np.float32), 0.55)


def test_a_similarity_carried_by_a_shared_word_does_not_make_a_match() -> None:
    # "guitar strings" corrected to "guitar spring": nail polishes of a "spring collection" are similar because
    # they share "spring"; only a product sharing no word speaks for the query's meaning
    shared = _features(query_terms=[2.0, 2.0], text_cover=[0.5, 0.5], dense=[0.62, 0.58])
    assert meaning_similarity(shared) == 0.0 and no_match_reason(shared, 0.3) == NO_MATCH
    by_meaning = _features(query_terms=[2.0, 2.0], text_cover=[0.5, 0.0], dense=[0.62, 0.48])
    assert meaning_similarity(by_meaning) == pytest.approx(0.48) and no_match_reason(by_meaning, 0.3) is None
    assert no_match_reason(by_meaning, 0.5) == NO_MATCH


def test_a_query_naming_a_type_no_product_is_matches_nothing_whatever_else_matches() -> None:
    typed = {"query_terms": [1.0, 1.0], "constraints": [1.0, 1.0], "product_types": [1.0, 1.0]}
    # the product's description says the type (all words, constraint kept) but neither title nor category does
    mentioned = _features(**typed, text_cover=[1.0, 1.0], all_kept=[1.0, 1.0], dense=[0.9, 0.9])
    assert no_match_reason(mentioned, 0.3) == NO_TYPE
    assert no_match_reason(_features(**typed, text_cover=[1.0, 1.0], all_kept=[1.0, 1.0],
                                     type_held=[0.0, 1.0], head_type_held=[0.0, 1.0]), 0.3) is None
    # of the type, but another word of the query ("car" of "car battery") in no product: its words decide
    two = {**typed, "query_terms": [2.0, 2.0]}
    assert no_match_reason(_features(**two, text_cover=[0.5, 1.0], head_type_held=[1.0, 0.0]), 0.3) == NO_MATCH
    assert no_match_reason(_features(**two, text_cover=[1.0, 0.5], head_type_held=[1.0, 0.0]), 0.3) is None


def test_a_query_naming_two_types_asks_for_its_head_type_only() -> None:
    two = {"query_terms": [3.0, 3.0], "constraints": [2.0, 2.0], "product_types": [2.0, 2.0],
           "text_cover": [1.0, 1.0]}
    # "gel nail polish uv lamp": a lamp whose text also says nail polish, no title naming both
    lamp = _features(**two, type_held=[0.5, 0.5], head_type_held=[1.0, 0.0])
    assert no_match_reason(lamp, 0.3) is None
    # only products of the modifier type (nail polishes): none is a lamp
    assert no_match_reason(_features(**two, type_held=[0.5, 0.5], head_type_held=[0.0, 0.0]), 0.3) == NO_TYPE


def test_a_product_of_the_head_type_answers_a_two_type_query_and_the_reason_names_the_head() -> None:
    index = _index(descriptions={0: "pairs with any mascara"})
    result = search(index, "mascara and eyeliner", 10, encoder=None)
    u = result.understanding
    assert u is not None
    assert [(c.value, c.head) for c in u.constraints if c.kind == "product_type"] == [
        ("mascara", False), ("eyeliner", True)]
    assert index.catalog.product_ids[result.hits[0].index] == "p0"  # an eyeliner with both words
    lost = search(index, "eyeliner and perfume", 10, encoder=None)  # no product is a perfume
    assert lost.hits == [] and lost.no_match.startswith("no product in the catalog is a perfume")


def test_a_type_only_a_description_mentions_is_not_held_and_answers_why() -> None:
    # a pencil case whose description mentions perfume: it keeps the words "perfume", but is no perfume
    index = _index(descriptions={2: "smells of perfume"})
    result = search(index, "perfume", 10, encoder=None)
    perfume = next(c for c in result.understanding.constraints if c.kind == "product_type")  # type: ignore[union-attr]
    assert perfume.keep is not None and perfume.held is not None
    assert perfume.keep.sum() == 1 and perfume.held.sum() == 0
    assert result.hits == [] and result.suggestions
    assert result.no_match == "no product in the catalog is a perfume (no title or category names it)"
    eyeliner = search(index, "eyeliner", 10, encoder=None)  # in titles and a category: held, answered
    assert eyeliner.hits and eyeliner.no_match == ""


def test_a_query_matching_no_product_answers_suggestions_not_filler() -> None:
    index = _index()
    result = search(index, "revlon shampoo", 10, encoder=None)  # no Revlon shampoo, no text with both words
    assert result.hits == [] and result.no_match and result.suggestions
    lenient = dataclasses.replace(index, ranker=WeightedRanker(FALLBACK_WEIGHTS, no_match_similarity=0.0))
    assert search(lenient, "revlon shampoo", 10, encoder=None).hits  # the floor decides it


def test_keeping_the_type_without_the_querys_other_words_is_no_match() -> None:
    # "travel eyeliner": the eyeliners keep the type, "travel" is only a lipstick's and a shampoo's word ("car
    # battery" on the office catalog: battery-powered sharpeners, and no car battery)
    index = _index(descriptions={4: "travel size", 7: "travel size"})
    assert free_terms(index.parser.parse("travel eyeliner"), terms("travel eyeliner")) == ["travel"]
    result = search(index, "travel eyeliner", 10, encoder=None)
    assert result.hits == [] and result.no_match
    # the word in an eyeliner's text makes it a match again; a word a constraint said is never required twice
    assert _ids(_index(descriptions={2: "travel size", 4: "travel size"}), "travel eyeliner")[0] == "p2"
    assert free_terms(index.parser.parse("red lipstick"), terms("red lipstick")) == []
    # a word only one product text uses is not asked for ("cahier" of "cahier à spirale": one French description)
    assert _ids(_index(descriptions={4: "travel size"}), "travel eyeliner")


def test_the_rankers_own_personal_weight_applies_unless_one_is_given() -> None:
    index = _index()
    user = _user_loving(index, 3)
    for weight, personalised in ((0.0, False), (2.0, True)):
        tuned = dataclasses.replace(index, ranker=WeightedRanker(FALLBACK_WEIGHTS, personal_weight=weight))
        assert search(tuned, "eyeliner", 5, encoder=None, user_vector=user).personalised is personalised
        assert search(tuned, "eyeliner", 5, encoder=None, user_vector=user, personal_weight=1.0).personalised


def test_a_zero_tie_band_leaves_the_rankers_order_to_any_user_and_the_rankers_band_applies_unless_one_is_given(
        ) -> None:
    index = _index()
    plain = [h.index for h in search(index, "eyeliner", 5, encoder=None).hits]
    user = _user_loving(index, plain[-1])  # the ranker's last eyeliner
    loved = [h.index for h in search(index, "eyeliner", 5, encoder=None, user_vector=user, personal_weight=10).hits]
    assert loved != plain  # the user moves something without a band
    assert [h.index for h in search(index, "eyeliner", 5, encoder=None, user_vector=user, personal_weight=10,
                                    personal_tie_band=0.0).hits] == plain
    banded = dataclasses.replace(index, ranker=WeightedRanker(FALLBACK_WEIGHTS, personal_weight=10,
                                                              personal_tie_band=0.0))
    assert [h.index for h in search(banded, "eyeliner", 5, encoder=None, user_vector=user).hits] == plain
    assert [h.index for h in search(banded, "eyeliner", 5, encoder=None, user_vector=user,
                                    personal_tie_band=10.0).hits] == loved


def test_a_titles_head_type_is_the_first_it_names_or_the_last_noun_of_that_compound() -> None:
    extractor = LexiconExtractor(Lexicon([], []))
    assert title_head(extractor, "Fellowes Powershred Shredder Bags for 125 Series Shredders") == "bag"
    assert title_head(extractor, "Fellowes Powershred 79Ci Jam Proof Cross-Cut Shredder") == "shredder"
    assert title_head(extractor, "Pencil Sharpener, electric") == "pencilsharpener"
    assert title_head(extractor, "maybelline line works waterproof liquid eye liner") == "eyeliner"
    assert title_head(extractor, "Nice gift for her") == ""


def test_the_title_head_feature_says_whether_a_product_is_about_the_querys_head_type(index: ServingIndex) -> None:
    u = index.parser.parse("eyeliner")
    cand = np.arange(len(PRODUCTS))
    features = feature_matrix(u, Retrieval({}, np.zeros(len(PRODUCTS)), None, np.zeros(len(PRODUCTS))), cand,
                              bm25_index=index.bm25, catalog=index.catalog, title_terms=index.parser.title_terms,
                              query_terms=["eyeliner"], title_heads=index.parser.title_heads)
    about = features[:, FEATURES.index("title_head")]
    assert about[[0, 3]].tolist() == [1.0, 1.0]  # two eyeliners
    # the mascara, the lipstick; and "eyeliner pencil", by the rule a kind of pencil (the head_type_held feature
    # still says its title names an eyeliner)
    assert about[[1, 4, 2]].tolist() == [0.0, 0.0, 0.0]
    assert features[:, FEATURES.index("title_typed")][[1, 4]].tolist() == [1.0, 1.0]


def test_the_title_similarity_reads_the_query_vector_against_each_titles_vector(index: ServingIndex) -> None:
    n = len(PRODUCTS)
    titles = np.zeros((n, 3), dtype=np.float32)
    titles[:, 0] = 1.0
    titles[2] = [0.0, 1.0, 0.0]
    titles[3] = [0.6, 0.8, 0.0]
    query = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    cand = np.array([0, 2, 3])
    u = index.parser.parse("eyeliner")
    r = Retrieval({}, np.zeros(n), None, np.zeros(n), query_vector=query)
    kw = {"bm25_index": index.bm25, "catalog": index.catalog, "title_terms": index.parser.title_terms,
          "query_terms": ["eyeliner"]}
    features = feature_matrix(u, r, cand, title_emb=titles, **kw)  # type: ignore[arg-type]
    assert features[:, FEATURES.index("title_dense")].tolist() == pytest.approx([0.0, 1.0, 0.8])
    assert features[:, FEATURES.index("title_dense_gap")].tolist() == pytest.approx([-1.0, 0.0, -0.2])
    without = feature_matrix(u, Retrieval({}, np.zeros(n), None, np.zeros(n)), cand, title_emb=titles,
                             **kw)  # type: ignore[arg-type]
    assert not without[:, FEATURES.index("title_dense")].any()  # no query vector (dense skipped): 0


def test_category_similarity_is_the_closest_of_the_products_categories(index: ServingIndex) -> None:
    n, cats = len(PRODUCTS), index.catalog.attributes["category"]
    num = len(index.catalog.node_ids["category"])
    query = np.array([1.0, 0.0], dtype=np.float32)
    names = np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (num, 1))  # every category orthogonal...
    lipstick = int(cats.row(4)[0])
    names[lipstick] = [0.6, 0.8]  # ...but one
    u = index.parser.parse("lipstick")
    features = feature_matrix(u, Retrieval({}, np.zeros(n), None, np.zeros(n), query_vector=query), np.array([1, 4]),
                              bm25_index=index.bm25, catalog=index.catalog, title_terms=index.parser.title_terms,
                              query_terms=["lipstick"], category_emb=names)
    assert features[:, FEATURES.index("category_dense")].tolist() == pytest.approx([0.0, 0.6])


def test_title_bm25_counts_the_querys_words_in_the_title_alone(index: ServingIndex) -> None:
    titles = BM25Index([t for t, *_ in PRODUCTS])
    u = index.parser.parse("red lipstick")
    cand = np.array([1, 4, 5, 6])  # a mascara; two red lipsticks; a nude one
    n = len(PRODUCTS)
    features = feature_matrix(u, Retrieval({}, np.zeros(n), None, np.zeros(n)), cand, bm25_index=index.bm25,
                              catalog=index.catalog, title_terms=index.parser.title_terms,
                              query_terms=["red", "lipstick"], title_bm25=titles)
    raw, share = features[:, FEATURES.index("title_bm25")], features[:, FEATURES.index("title_bm25_norm")]
    assert raw[0] == 0.0 and raw[1] > raw[3] > 0.0 and raw[2] > raw[3]  # "red" in the title counts
    assert share.max() == pytest.approx(1.0) and share[0] == 0.0
    mens = feature_matrix(u, Retrieval({}, np.zeros(n), None, np.zeros(n)), np.arange(n), bm25_index=index.bm25,
                          catalog=index.catalog, title_terms=index.parser.title_terms, query_terms=["men"],
                          title_bm25=BM25Index(["razor for mens", "razor for man"] + [""] * (n - 2)))
    # the query's terms are matched as they are: "men" (of "mens") is not cut again into "man"
    mens_title, man_title = mens[:2, FEATURES.index("title_bm25")].tolist()
    assert mens_title > 0.0 and man_title == 0.0


def test_user_interest_is_the_candidates_mean_score_in_the_users_catalog_spread() -> None:
    index = _index()
    user = _user_loving(index, 3)
    cand = np.array([0, 2, 3])
    everyone = index.product_emb @ user  # the catalog is smaller than the sample: every product is in it
    expected = ((index.product_emb[cand] @ user).mean() - everyone.mean()) / everyone.std()
    assert user_interest(index, cand, user) == pytest.approx(expected, rel=1e-5)
    assert user_interest(index, cand, np.zeros_like(user)) == 0.0  # no spread: nothing to compare


def test_the_interest_gate_personalises_only_a_user_whose_model_likes_the_querys_candidates() -> None:
    index = _index()
    plain = [h.index for h in search(index, "eyeliner", 5, encoder=None).hits]
    user = _user_loving(index, plain[-1])
    interest = user_interest(index, np.array(plain), user)
    for gate, personalised in ((None, True), (interest - 0.01, True), (interest + 0.01, False)):
        gated = dataclasses.replace(index, ranker=WeightedRanker(FALLBACK_WEIGHTS, personal_weight=10,
                                                                 personal_gate=gate))
        result = search(gated, "eyeliner", 5, encoder=None, user_vector=user)
        assert result.personalised is personalised
        assert ([h.index for h in result.hits] == plain) is not personalised  # the user moves the list when in
    # the request's gate overrides the ranker's
    shut = dataclasses.replace(index, ranker=WeightedRanker(FALLBACK_WEIGHTS, personal_weight=10, personal_gate=9.0))
    assert search(shut, "eyeliner", 5, encoder=None, user_vector=user, personal_gate=-9.0).personalised


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.integers(2, 40), st.integers(0, 2**31 - 1), st.floats(0, 10))
def test_final_order_never_lifts_a_candidate_breaking_more_constraints(n: int, seed: int, weight: float) -> None:
    rng = np.random.default_rng(seed)
    tiers = rng.integers(0, 3, n)
    order, fused = final_order(rng.normal(size=n), tiers, np.arange(n), rng.normal(size=n) * 100, weight)
    assert sorted(order.tolist()) == list(range(n))
    assert list(tiers[order]) == sorted(tiers, reverse=True)
    for a, b in itertools.pairwise(order):  # within a tier, by the fused score
        assert tiers[a] > tiers[b] or fused[a] >= fused[b]


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.integers(2, 40), st.integers(0, 2**31 - 1), st.floats(0.01, 10))
def test_personalisation_moves_a_product_only_among_those_holding_as_many_query_words(n: int, seed: int,
                                                                                       weight: float) -> None:
    rng = np.random.default_rng(seed)
    scores, tiers, cover = rng.normal(size=n), rng.integers(0, 3, n), rng.choice([0.0, 0.5, 1.0], n)
    plain, _ = final_order(scores, tiers, np.arange(n), None, 0.0, cover)
    order, fused = final_order(scores, tiers, np.arange(n), rng.normal(size=n) * 100, weight, cover)
    assert sorted(order.tolist()) == list(range(n))
    # Every place holds a product of the same tier and word cover as without the user ...
    assert tiers[order].tolist() == tiers[plain].tolist() and cover[order].tolist() == cover[plain].tolist()
    # ... and within each such group the user's fused score decides.
    for group in {(t, c) for t, c in zip(tiers, cover, strict=True)}:
        members = [j for j in order if (tiers[j], cover[j]) == group]
        assert all(fused[a] >= fused[b] for a, b in itertools.pairwise(members))


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.integers(2, 40), st.integers(0, 2**31 - 1), st.floats(0.01, 10), st.floats(0, 2))
def test_with_a_tie_band_personalisation_never_passes_a_product_the_ranker_scores_higher_by_more(
        n: int, seed: int, weight: float, band: float) -> None:
    rng = np.random.default_rng(seed)
    scores, tiers, cover = rng.normal(size=n), rng.integers(0, 3, n), rng.choice([0.0, 1.0], n)
    plain, _ = final_order(scores, tiers, np.arange(n), None, 0.0, cover)
    order, _ = final_order(scores, tiers, np.arange(n), rng.normal(size=n) * 100, weight, cover, tie_band=band)
    assert sorted(order.tolist()) == list(range(n))
    assert tiers[order].tolist() == tiers[plain].tolist() and cover[order].tolist() == cover[plain].tolist()
    place = {int(j): p for p, j in enumerate(order)}
    margin = band * scores.std()  # the band is in standard deviations of the query's scores
    for a in range(n):  # whoever the user puts first, a product beaten by more than the band stays below
        for b in range(n):
            if (tiers[a], cover[a]) == (tiers[b], cover[b]) and scores[a] > scores[b] + margin:
                assert place[a] < place[b]


def test_tie_runs_start_where_the_score_falls_past_the_band_or_the_group_changes() -> None:
    scores = np.array([1.0, 0.95, 0.85, 0.8, 0.79])
    groups = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    # 0.85 is more than 0.1 below the run's first (1.0); 0.79 is in another group.
    assert tie_runs(np.arange(5), groups, scores, 0.1).tolist() == [0, 0, 1, 1, 2]
    assert tie_runs(np.arange(5), groups, scores, 0.0).tolist() == [0, 1, 2, 3, 4]
    assert final_order(scores, np.zeros(5), np.arange(5), -scores, 1.0, tie_band=0.0)[0].tolist() == \
        [0, 1, 2, 3, 4]
    band = 0.1 / scores.std()  # 0.1 in the scores' own units
    assert final_order(scores, np.zeros(5), np.arange(5), -scores, 100.0, tie_band=band)[0].tolist() == \
        [1, 0, 4, 3, 2]


def test_a_men_s_razor_query_stays_men_s_first_for_a_shopper_of_women_s_razors() -> None:
    # Two razors keep the type constraint; only the first holds the query's free word ("men").
    scores, tiers, cover = np.array([2.0, 1.0]), np.array([1, 1]), np.array([1.0, 0.0])
    loves_the_second = np.array([0.0, 5.0])
    assert final_order(scores, tiers, np.arange(2), loves_the_second, 10.0)[0].tolist() == [1, 0]
    assert final_order(scores, tiers, np.arange(2), loves_the_second, 10.0, cover)[0].tolist() == [0, 1]


def test_ndcg_orders_by_tier_then_score_with_the_benchmark_gains() -> None:
    # one query: candidate 0 is Exact but keeps no constraint, 1 is Substitute keeping one
    groups = Groups(np.zeros((2, len(FEATURES)), np.float32), np.array([3, 2]), np.array([0, 1]), [2], ["q"])
    ideal = LABEL_GAIN[3] + LABEL_GAIN[2] / np.log2(3)
    served = LABEL_GAIN[2] + LABEL_GAIN[3] / np.log2(3)  # the tier puts the Substitute first, whatever the scores
    assert ndcg_at(np.array([5.0, 0.0]), groups) == pytest.approx(served / ideal)
    flat = dataclasses.replace(groups, tiers=np.array([0, 0]))
    assert ndcg_at(np.array([5.0, 0.0]), flat) == pytest.approx(1.0)


def test_cross_validation_scores_every_query_out_of_fold() -> None:
    rng = np.random.default_rng(0)
    sizes = [12] * 10
    x = rng.normal(size=(sum(sizes), len(FEATURES))).astype(np.float32)
    grades = np.clip(np.round(x[:, 0] + 1.5), 0, 3).astype(np.int32)  # the first feature predicts the grade
    groups = Groups(x, grades, np.zeros(len(grades), np.int64), sizes, [f"q{i}" for i in range(10)])
    score, oof = cross_validate(groups, {"n_estimators": 30, "min_child_samples": 3}, folds=5)
    assert oof.shape == (len(grades),) and np.all(oof != 0)
    assert score > ndcg_at(-x[:, 0], groups) and score > 0.8
    with pytest.raises(LabelsError, match="cannot be cut into 5 folds"):
        cross_validate(groups.subset([0, 1, 2]), {}, folds=5)


def test_a_ranker_carries_its_tuned_weight_and_floor_and_a_bad_one_is_refused(index: ServingIndex,
                                                                             tmp_path: Path) -> None:
    labels = [("maybelline eyeliner", "p0", 3), ("red lipstick", "p4", 3), ("kids shampoo", "p7", 3)]
    train_ranker(index, None, labels, tmp_path, rounds=10)
    meta = json.loads((ranker_dir(tmp_path) / "meta.json").read_text())
    assert meta["label_gain"] == list(LABEL_GAIN)
    for tuned, (weight, floor) in (({}, (0.5, 0.55)), ({"personal_weight": 0.1, "no_match_similarity": 0.6},
                                                       (0.1, 0.6))):
        (ranker_dir(tmp_path) / "meta.json").write_text(json.dumps({**meta, **tuned}))
        ranker, note = load_ranker(tmp_path)
        assert note is None and (ranker.personal_weight, ranker.no_match_similarity) == (weight, floor)
    (ranker_dir(tmp_path) / "meta.json").write_text(json.dumps({**meta, "personal_weight": "high"}))
    ranker, note = load_ranker(tmp_path)
    assert ranker.name == "weights" and note and "personal_weight must be a number" in note
