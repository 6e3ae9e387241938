"""The API's pieces without HTTP and without a trained bundle: BM25, linking, filters, query checks, event
buffer, top-k, explanation scoring inputs. A hand-made catalog of six products keeps the expected answers
computable by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.errors import InvalidRequestError, NotFoundError
from api.events import EVENT_RELATIONSHIP, RecentEvent, RecentEvents
from api.routes.validation import check_query_text
from api.serving.bm25 import BM25Index
from api.serving.catalog import Catalog, Csr
from api.serving.filters import FilterResolver, Filters, make_filters
from api.serving.linking import EntityLinker
from api.serving.recommend import top_k
from api.serving.text import normalize, terms

TITLES = [
    "maybelline great lash mascara black",
    "loreal voluminous mascara",
    "nyx matte lipstick red",
    "hp 61 ink cartridge black",
    "hp 61 ink cartridge tri color",
    "red nail polish",
]
BRANDS = ["maybelline", "loreal-paris", "nyx", "hp"]
BRAND_NAMES = ["Maybelline", "L'Oréal Paris", "NYX", "HP"]
BRAND_OF = [0, 1, 2, 3, 3, -1]
CATEGORIES = ["mascara", "lips", "ink", "nails"]
CATEGORY_OF = [0, 0, 1, 2, 2, 3]


def _catalog() -> Catalog:
    n = len(TITLES)
    brand_pairs = [(i, b) for i, b in enumerate(BRAND_OF) if b >= 0]
    bp, bb = zip(*brand_pairs, strict=True)
    cp = np.arange(n)
    cc = np.array(CATEGORY_OF)
    empty = Csr.from_pairs(np.zeros(0), np.zeros(0), n)
    return Catalog(
        product_ids=[f"p{i}" for i in range(n)], titles=TITLES, texts=TITLES, active=np.array([True] * 5 + [False]),
        price=np.array([8.0, 12.0, 5.0, 30.0, np.nan, 3.0]),
        node_ids={"brand": BRANDS, "category": CATEGORIES, "entity": ["ink-cartridge"]},
        node_names={"brand": BRAND_NAMES, "category": ["Mascara", "Lips", "Ink", "Nails"],
                    "entity": ["ink cartridge"]},
        attributes={"brand": Csr.from_pairs(np.array(bp), np.array(bb), n),
                    "category": Csr.from_pairs(cp, cc, n),
                    "entity": Csr.from_pairs(np.array([3, 4]), np.array([0, 0]), n)},
        members={"brand": Csr.from_pairs(np.array(bb), np.array(bp), len(BRANDS)),
                 "category": Csr.from_pairs(cc, cp, len(CATEGORIES)),
                 "entity": Csr.from_pairs(np.array([0, 0]), np.array([3, 4]), 1)},
        links={"also_bought": empty, "also_viewed": empty, "bought_together": empty},
        user_ids=[], history=Csr.from_pairs(np.zeros(0), np.zeros(0), 0), history_kind=np.zeros(0, np.int8),
        popularity=np.arange(n, dtype=np.float32), source="store",
    )


def test_normalize_folds_case_accents_and_apostrophes() -> None:
    assert normalize("L'Oréal  PARIS!") == "loreal paris"
    assert normalize("Ink-Cartridge, 61XL") == "ink cartridge 61xl"
    assert terms("the ink for a HP 61") == ["ink", "hp", "61"]


def test_bm25_matches_hand_computed_scores() -> None:
    index = BM25Index(TITLES, k1=1.2, b=0.75)
    scores = index.scores("mascara")
    assert set(np.flatnonzero(scores)) == {0, 1}
    lengths = [len(terms(t)) for t in TITLES]
    avgdl = sum(lengths) / len(lengths)
    idf = math.log(1 + (6 - 2 + 0.5) / (2 + 0.5))
    for doc in (0, 1):
        expected = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * lengths[doc] / avgdl))
        assert scores[doc] == pytest.approx(expected, rel=1e-5)
    assert scores[1] > scores[0]  # the shorter document
    assert index.matched_terms("black mascara", 0) == ["black", "mascara"]
    assert not index.scores("zzz unknown").any()


def test_linker_finds_longest_names_and_folds_spelling() -> None:
    linker = EntityLinker(_catalog())
    mentions = linker.link("loreal paris mascara")
    assert [(m.node_type, m.node_id) for m in mentions] == [("brand", "loreal-paris"), ("category", "mascara")]
    mentions = linker.link("HP ink cartridge")
    assert [(m.node_type, m.node_id) for m in mentions] == [("brand", "hp"), ("entity", "ink-cartridge")]
    assert linker.link("for the") == []


def test_filters_resolve_ids_and_names_and_price() -> None:
    resolver = FilterResolver(_catalog())
    mask = resolver.mask(make_filters(["HP", "nyx"], None, None, None))
    assert mask is not None and list(np.flatnonzero(mask)) == [2, 3, 4]
    mask = resolver.mask(make_filters(None, ["Mascara"], 10, None))
    assert mask is not None and list(np.flatnonzero(mask)) == [1]
    mask = resolver.mask(make_filters(["hp"], None, None, 100))
    assert mask is not None and list(np.flatnonzero(mask)) == [3]  # no price: excluded by a price bound
    assert resolver.mask(Filters()) is None
    assert resolver.mask(make_filters(["hp,nyx"], None, None, None)) is resolver.mask(
        make_filters(["hp,nyx"], None, None, None))  # cached


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((["nope"], None, None, None), NotFoundError, "unknown brand"),
        ((None, ["nope"], None, None), NotFoundError, "unknown category"),
        ((None, None, float("inf"), None), InvalidRequestError, "finite"),
        (([",".join(f"b{i}" for i in range(30))], None, None, None), InvalidRequestError, "at most 20"),
    ],
)
def test_bad_filters_raise_clear_errors(args: tuple, error: type[Exception],  # type: ignore[type-arg]
                                        message: str) -> None:
    resolver = FilterResolver(_catalog())
    with pytest.raises(error, match=message):
        resolver.mask(make_filters(*args))


def test_empty_filters_are_no_filters_and_an_inverted_price_range_matches_nothing() -> None:
    resolver = FilterResolver(_catalog())
    assert make_filters([","], [""], None, None) == make_filters(None, None, None, None)
    inverted = make_filters(None, None, 5.0, 1.0)
    mask = resolver.mask(inverted)
    assert mask is not None and not mask.any() and "empty range" in inverted.describe()


def test_a_filter_on_a_field_the_catalog_lacks_says_so() -> None:
    catalog = _catalog()
    catalog.price = np.full(catalog.num_products, np.nan)
    resolver = FilterResolver(catalog)
    assert resolver.absent == {"price"}
    with pytest.raises(InvalidRequestError, match="this catalog has no price for any product"):
        resolver.mask(make_filters(None, None, 1.0, None))
    assert resolver.mask(make_filters(["hp"], None, None, None)) is not None  # brands are there


@pytest.mark.parametrize("q", ["red lipstick", "L'Oréal mascara", "hp 61 ink", "match box cars",
                               "return gift set", "create your look"])
def test_plain_queries_pass(q: str) -> None:
    assert check_query_text(q) == q


@pytest.mark.parametrize("q", ["MATCH (n) RETURN n", "x}) DETACH DELETE n //", "1' or '1'='1",
                               "a; drop table t", "x UNION SELECT password", "/* hi */", "tab\x07bell"])
def test_statement_like_queries_are_refused(q: str) -> None:
    with pytest.raises(InvalidRequestError):
        check_query_text(q)


def test_top_k_orders_and_skips_minus_infinity() -> None:
    scores = np.array([0.1, -np.inf, 3.0, 2.0, -np.inf, 2.5])
    assert list(top_k(scores, 3)) == [2, 5, 3]
    assert list(top_k(scores, 10)) == [2, 5, 3, 0]
    assert list(top_k(np.full(3, -np.inf), 2)) == []


def test_recent_events_are_bounded_per_user_and_in_users() -> None:
    buffer = RecentEvents(per_user=2, max_users=2)
    for i in range(3):
        buffer.add("a", RecentEvent(f"p{i}", "view", i))
    assert [e.product_id for e in buffer.get("a")] == ["p1", "p2"]
    buffer.add("b", RecentEvent("p0", "cart", 0))
    buffer.add("c", RecentEvent("p0", "purchase", 0))
    assert "a" not in buffer and len(buffer) == 2 and buffer.get("a") == []


def test_recent_events_leave_nothing_for_the_garbage_collector_to_walk() -> None:
    """A full collection over 100,000 users' deques of objects stalled every request (bench/events.py);
    the buffers are exact tuples of strings and ints, which the collector stops tracking."""
    import gc

    buffer = RecentEvents(per_user=3)
    for i in range(5):
        buffer.add(f"u{i % 2}", RecentEvent(f"p{i}", "view", i))
    gc.collect()
    gc.collect()  # a pass untracks a tuple only once its items are untracked: the outer one goes a pass later
    stored = buffer._users  # the storage itself is what the collector sees
    assert not any(gc.is_tracked(buf) or any(gc.is_tracked(item) for item in buf) for buf in stored.values())
    assert [(e.product_id, e.type, e.ts) for e in buffer.get("u0")] == [("p0", "view", 0), ("p2", "view", 2),
                                                                        ("p4", "view", 4)]


def test_event_types_map_to_schema_relationships() -> None:
    assert {k: v.value for k, v in EVENT_RELATIONSHIP.items()} == {"view": "VIEWED", "cart": "VIEWED",
                                                                  "purchase": "PURCHASED"}


def test_the_similar_to_threshold_is_measured_on_random_pairs() -> None:
    from api.serving.index import MIN_REASON_SIMILARITY, reason_threshold

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(200, 64))  # 200 kinds of product, 5 of each: a random pair is rarely alike
    emb = np.concatenate([c + 0.3 * rng.normal(size=(5, 64)) for c in centres])
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    threshold = reason_threshold(unit, np.ones(len(unit), dtype=bool))
    within = float(np.median(unit[:5] @ unit[:5].T))
    across = unit[:500] @ unit[500:].T
    assert MIN_REASON_SIMILARITY <= threshold < within  # products of one cluster are "similar"
    assert (across < threshold).mean() > 0.95  # products of two clusters almost never are
    assert reason_threshold(unit[:2], np.ones(2, dtype=bool)) == 1.0  # too few to measure: never


def test_explanations_rank_rare_shared_entities_before_common_ones() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from api.explain import _attribute

    n = 200
    entity_of = [(i, 0) for i in range(150)] + [(0, 1), (5, 1)]  # entity 0 "yellow": 150 products; 1: two
    ep, ee = (np.array(x) for x in zip(*entity_of, strict=True))
    catalog = _catalog()
    catalog.product_ids = [f"p{i}" for i in range(n)]
    catalog.node_ids = {**catalog.node_ids, "entity": ["yellow", "digital-caliper"]}
    catalog.node_names = {**catalog.node_names, "entity": ["Yellow", "Digital Caliper"]}
    catalog.members = {**catalog.members, "entity": Csr.from_pairs(ee, ep, 2)}
    catalog.active = np.ones(n, dtype=bool)
    index = cast(Any, SimpleNamespace(catalog=catalog))
    row = {"rel1": "PURCHASED", "rel2": "MENTIONS", "x_label": "Entity", "q_id": "p1"}
    colour = _attribute(index, "u", "p5", {**row, "x_id": "yellow", "support": 4})
    rare = _attribute(index, "u", "p5", {**row, "x_id": "digital-caliper", "support": 1})
    assert rare.score > colour.score


def test_exact_ease_weights_move_to_catalog_order_rows_and_columns() -> None:
    """A bundle's B in its own product order, read by a catalog that orders products differently, lost one and
    gained one: B[i, j] lands at (catalog i, catalog j); the product the bundle lacks gets a zero row and column."""
    from types import SimpleNamespace

    import torch

    from api.serving.index import _history_scores

    weights = torch.arange(9, dtype=torch.float16).reshape(3, 3)  # bundle products b0, b1, b2
    bundle = SimpleNamespace(config=SimpleNamespace(model="ease"), state_dict={"history_scores": weights})
    # Catalog: c0 = b2, c1 = new, c2 = b0 (b1 is gone).
    pairs = np.array([[0, 2], [2, 0]])
    got = _history_scores(bundle, 3, pairs)  # type: ignore[arg-type]
    expected = np.array([[8, 0, 6], [0, 0, 0], [2, 0, 0]], dtype=np.float16)
    np.testing.assert_array_equal(got, expected)
    same_order = _history_scores(bundle, 3, np.array([[0, 0], [1, 1], [2, 2]]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(same_order, weights.numpy())
    other = SimpleNamespace(config=SimpleNamespace(model="kg_sasrec"), state_dict={"history_scores": weights})
    assert _history_scores(other, 3, pairs) is None  # type: ignore[arg-type]
