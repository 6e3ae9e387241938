"""The API serving a sequence bundle (``kg_sasrec``) end to end: the sample graph, a one-epoch model, real MiniLM.

What changes against a GNN bundle: the user vector is the self-attention encoder run over the user's ordered
history at request time, so an event moves the very next answer, a user the bundle never saw is served from
their events, and a product added after training gets its vector from its text and graph edges.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from conftest import home_with_text_cache
from fastapi.testclient import TestClient

from api.events import RecentEvent
from api.main import create_app
from api.serving.catalog import catalog_from_snapshot, read_prices
from api.serving.index import HALF_LIMIT, build_index
from api.serving.recommend import recommend, title, user_context
from cartograph.commands.quickstart import train_quick
from gnn import content
from gnn.bundle import load_bundle
from gnn.data import snapshot_from_store
from gnn.history import HistoryEncoder, bundle_lookup_scores
from gnn.transitions import lookup_matrix, transition_matrix
from kg.config import Settings
from kg.ingest.run import run_ingest
from kg.store import open_store
from kg.text import TextEncoder

NEW_PRODUCT = "SEQ-NEW-0001"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = home_with_text_cache(tmp_path_factory.mktemp("api-seq"))
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0)
    run_ingest(settings, settings.sample_dir, progress=False)
    with pytest.MonkeyPatch.context() as patch:
        # The transition channel and lookup on, whatever validation would choose on the sample: every test here
        # serves them.
        patch.setattr(content, "TRANSITION_WEIGHT_GRID", (0.125,))
        patch.setattr(content, "LOOKUP_WEIGHT_GRID", (1.0,))
        patch.setattr(content, "COLD_LOOKUP_GAIN_GRID", (1.0,))
        train_quick(settings, 1, progress=False, model="kg_sasrec")
    with open_store(settings) as store:
        store.upsert_nodes("Product", [{"id": NEW_PRODUCT, "title": "zanzibar violet glitter nail lacquer",
                                        "active": True}])
        store.upsert_relationships("MADE_BY", [{"src": NEW_PRODUCT, "dst": "opi"}])
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _user_with_history(client: TestClient) -> str:
    index = client.app.state.service.index  # type: ignore[attr-defined]
    return next(u for u in sorted(index.user_index) if len(index.catalog.user_history(u)[0]) >= 4)


def test_known_users_are_served_by_the_sequence_encoder(client: TestClient) -> None:
    user = _user_with_history(client)
    body = client.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    assert body["strategy"] == "sequence" and len(body["items"]) == 5


def test_one_event_changes_the_next_answer_and_new_users_are_served_from_their_events(client: TestClient) -> None:
    user = _user_with_history(client)
    before = [i["product"]["id"] for i in client.get(f"/users/{user}/recommendations").json()["items"]]
    r = client.post("/events", json={"user_id": user, "product_id": before[0], "type": "purchase"})
    assert r.status_code == 202, r.text
    after = client.get(f"/users/{user}/recommendations").json()
    assert after["strategy"] == "sequence+recent" and before[0] not in {i["product"]["id"] for i in after["items"]}
    client.post("/events", json={"user_id": "seq-visitor", "product_id": before[1], "type": "view"})
    visitor = client.get("/users/seq-visitor/recommendations").json()
    assert visitor["strategy"] == "sequence+recent" and len(visitor["items"]) == 10


def test_the_served_user_vector_is_the_encoder_over_the_history(client: TestClient) -> None:
    """Recomputing the stored vector of a user from their ordered history gives the same ranking order: the
    bundle's user vectors are the encoder after each whole history (train, valid and test items)."""
    index = client.app.state.service.index  # type: ignore[attr-defined]
    user = _user_with_history(client)
    assert isinstance(index.history_encoder, HistoryEncoder)
    vector = index.history_encoder.encode(index.catalog.user_history(user)[0].tolist())
    stored = index.user_emb[index.user_index[user]]
    np.testing.assert_allclose(vector, stored, rtol=1e-4, atol=1e-5)


def test_a_product_added_after_training_gets_a_vector_from_its_text_and_edges(client: TestClient) -> None:
    index = client.app.state.service.index  # type: ignore[attr-defined]
    row = index.catalog.product_index[NEW_PRODUCT]
    assert index.has_embedding[row] and index.inductive_products >= 1
    assert np.linalg.norm(index.product_emb[row]) > 0
    similar = client.get(f"/products/{NEW_PRODUCT}/similar", params={"k": 3})
    assert similar.status_code == 200 and len(similar.json()["items"]) == 3
    assert load_bundle(client.app.state.service.settings.artifacts_dir).config.model == "kg_sasrec"  # type: ignore[attr-defined]


def test_the_served_scores_read_the_table_in_float16_and_stay_within_its_rounding(client: TestClient) -> None:
    index = client.app.state.service.index  # type: ignore[attr-defined]
    assert index.product_half is not None and index.product_half.dtype == torch.float16
    user = _user_with_history(client)
    vector = index.user_emb[index.user_index[user]]
    exact = index.product_emb @ vector
    served = index.model_scores(vector)
    assert served.dtype == np.float32 and served.shape == exact.shape
    # float16 keeps 11 significant bits: each operand moves by at most 2^-11 of itself.
    bound = 2.0 ** -9 * float(np.abs(index.product_emb).sum(axis=1).max() * np.abs(vector).max())
    assert np.abs(served - exact).max() <= bound
    assert not np.array_equal(served, exact)  # the float16 table is what is read


def test_the_transition_channels_from_rows_are_served_but_never_scored(client: TestClient) -> None:
    """A product's from rows are read when a history is encoded; no user vector has anything there, so the
    float16 table leaves those columns out."""
    index = client.app.state.service.index  # type: ignore[attr-defined]
    model = index.history_encoder.model
    assert model.has_transition_channel
    rank = model.transition_rank
    assert index.scored_width == index.product_emb.shape[1] - rank == model.scored_width()
    assert index.product_half.shape[1] == index.scored_width
    assert not index.user_emb[:, index.scored_width:].any()
    assert np.abs(index.product_emb[:, index.scored_width:]).sum() > 0  # the from rows themselves are there
    user = _user_with_history(client)
    vector = index.history_encoder.encode(index.catalog.user_history(user)[0].tolist())
    assert not vector[index.scored_width:].any()


def test_recommendations_add_the_transition_lookup_of_the_newest_items(client: TestClient) -> None:
    """The exact rows of what followed the user's newest items, over every history the catalog knows, are added
    to the dot products; with recent events the blended vector's scores are put back on the encoder's scale."""
    index = client.app.state.service.index  # type: ignore[attr-defined]
    lookup = index.transition_lookup
    assert lookup is not None and index.history_encoder.model.has_transition_lookup
    ptr, idx = index.catalog.history.ptr, index.catalog.history.idx
    histories = [idx[ptr[u]:ptr[u + 1]] for u in range(len(ptr) - 1)]
    model = index.history_encoder.model
    observed = transition_matrix(histories, index.num_products)  # what explanations cite: the next item
    # What the scores read: the window and the row power validation chose.
    window, power = int(model.lookup_window), float(model.lookup_row_power)
    scored = transition_matrix(histories, index.num_products, window, power)
    if lookup.observed is not None or window > 1 or power != 1.0:
        np.testing.assert_allclose(lookup.observed.toarray(), observed.toarray())
    # Products nothing was followed by (the one added after training) are lent their text neighbours' columns.
    lent = lookup_matrix(scored, index.text_emb, float(model.cold_lookup_gain))
    np.testing.assert_allclose(lookup.matrix.toarray(), lent.toarray(), rtol=1e-6, atol=1e-9)
    assert lookup.matrix[:, index.catalog.product_index[NEW_PRODUCT]].nnz > 0

    def boosted(user: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        hist = index.catalog.user_history(user)[0]
        products, boost = lookup.sparse_scores(hist)
        return products[~np.isin(products, hist)], boost[~np.isin(products, hist)], tuple(hist.tolist())

    user = next(u for u in sorted(index.user_index) if len(boosted(u)[0]))  # a user some unseen product follows
    products, boost, hist = boosted(user)
    ctx = user_context(index, user, ())
    assert ctx.sequence == hist and ctx.score_scale == 1.0
    expected = index.model_scores(ctx.vector)
    expected[products] += boost
    hits = recommend(index, user, index.num_products).hits
    assert {h.index: h.score for h in hits}.keys() >= set(products.tolist())
    for hit in hits:
        assert hit.score == pytest.approx(float(expected[hit.index]), rel=1e-5, abs=1e-5)
        # A product that followed one of the newest items says so, naming the newest such item.
        followed = [j for j in reversed(hist[-lookup.last:]) if observed[j, hit.index] > 0]
        if followed:
            assert hit.reason.startswith(f"often chosen right after “{title(index, followed[0])}”")
        else:
            assert not hit.reason.startswith("often chosen right after")
    recent = [RecentEvent(product_id=index.catalog.product_ids[int(products[0])], type="view", ts=0)]
    blended = user_context(index, user, recent)
    after = index.history_encoder.encode([*hist, int(products[0])])
    assert blended.sequence == (*hist, int(products[0]))
    assert blended.score_scale == pytest.approx(np.linalg.norm(blended.vector) / np.linalg.norm(after), rel=1e-5)


def test_export_recs_adds_the_lookup_serving_adds(client: TestClient) -> None:
    """``cartograph export-recs``'s extra scores (:class:`gnn.history.BundleLookupScores`, over the graph's
    histories, in the bundle's product order) are the request's sparse lookup scores, product for product."""
    service = client.app.state.service  # type: ignore[attr-defined]
    bundle = load_bundle(service.settings.artifacts_dir)
    with open_store(service.settings) as store:
        snapshot = snapshot_from_store(store)  # the graph now: other tests' events are in it
        extra = bundle_lookup_scores(bundle, lambda: snapshot)
        index = build_index(bundle, catalog_from_snapshot(snapshot, read_prices(store)),
                            text_encoder=TextEncoder(cache_dir=service.settings.home / "cache" / "text"))
    assert extra is not None and index.transition_lookup is not None
    # New products' columns lent from their text neighbours: the export's text (the bundle's) and serving's (the
    # catalog's, embedded at startup) are the same MiniLM vectors.
    assert float(index.history_encoder.model.cold_lookup_gain) == 1.0
    users = sorted(index.user_index)[:40]
    scores = extra([*users, "no-such-user"])
    assert not scores[-1].any()
    columns = [index.catalog.product_index[pid] for pid in bundle.id_maps["product"]]
    assert any(scores[:-1].any(axis=1))
    for row, user in enumerate(users):
        expected = np.zeros(index.num_products, dtype=np.float32)
        products, boost = index.transition_lookup.sparse_scores(index.catalog.user_history(user)[0])
        expected[products] = boost
        np.testing.assert_allclose(scores[row], expected[columns], rtol=1e-5, atol=1e-6)


def test_a_vector_beyond_float16_range_is_scored_in_float32(client: TestClient) -> None:
    index = client.app.state.service.index  # type: ignore[attr-defined]
    huge = np.full(index.product_emb.shape[1], 2 * HALF_LIMIT, dtype=np.float32)
    np.testing.assert_array_equal(index.model_scores(huge), index.product_emb @ huge)
    assert np.isfinite(index.model_scores(huge)).all()


def test_serve_float16_false_scores_exactly_in_float32(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    index = build_index(load_bundle(service.settings.artifacts_dir), service.index.catalog, text_encoder=None,
                        float16=False)
    assert index.product_half is None
    vector = index.user_emb[0]
    np.testing.assert_array_equal(index.model_scores(vector), index.product_emb @ vector)
