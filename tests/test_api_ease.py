"""The API serving an EASE bundle (``gnn.baselines.ease``) end to end on the sample graph: the bundle keeps the
model's history rows, and a user's vector is their sum over every product the user has, events included."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import home_with_text_cache
from fastapi.testclient import TestClient

from api.main import create_app
from cartograph.commands.quickstart import train_quick
from gnn.bundle import load_bundle
from gnn.data import snapshot_from_store
from gnn.history import bundle_item_regression_scores
from kg.config import Settings
from kg.ingest.run import run_ingest
from kg.store import open_store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    home = home_with_text_cache(tmp_path_factory.mktemp("api-ease"))
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0)
    run_ingest(settings, settings.sample_dir, progress=False)
    train_quick(settings, 1, progress=False, model="ease")
    with TestClient(create_app(settings)) as client:
        yield client, settings


def test_the_bundle_records_a_closed_form_model_and_its_history_rows(served: tuple[TestClient, Settings]) -> None:
    bundle = load_bundle(served[1].artifacts_dir)
    assert bundle.config.model == "ease" and bundle.metrics["stopped_by"] == "closed form"
    assert bundle.state_dict is not None
    rows = bundle.state_dict["history_rows"].numpy()
    assert rows.shape == bundle.product_embeddings.shape == (len(bundle.id_maps["product"]), rows.shape[1])
    index = served[0].app.state.service.index  # type: ignore[attr-defined]
    user = _user_with_history(served[0])
    history = index.catalog.user_history(user)[0]
    product_row = {pid: j for j, pid in enumerate(bundle.id_maps["product"])}
    bundle_rows = [product_row[index.catalog.product_ids[i]] for i in np.unique(history)]
    stored = bundle.user_embeddings[bundle.id_maps["user"].index(user)]
    np.testing.assert_allclose(rows[bundle_rows].sum(axis=0), stored, rtol=1e-4, atol=1e-5)  # X W, as trained


def _user_with_history(client: TestClient) -> str:
    index = client.app.state.service.index  # type: ignore[attr-defined]
    return next(u for u in sorted(index.user_index) if len(index.catalog.user_history(u)[0]) >= 3)


def _exact_scores(index, items: set[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """EASE's exact scores for a user with these products: the sum of their rows of B (float16, summed in
    float32), by hand."""
    return index.history_scores[sorted(items)].astype(np.float32).sum(axis=0)


def _model_top(index, scores: np.ndarray, exclude: set[int], k: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The top ``k`` product ids by ``scores``."""
    order = [i for i in np.argsort(-scores, kind="stable") if index.recommendable[i] and i not in exclude]
    return [index.catalog.product_ids[i] for i in order[:k]]


def test_a_known_user_gets_the_models_exact_ranking(served: tuple[TestClient, Settings]) -> None:
    client, settings = served
    bundle = load_bundle(settings.artifacts_dir)
    index = client.app.state.service.index  # type: ignore[attr-defined]
    assert bundle.state_dict is not None and "history_scores" in bundle.state_dict  # the sample is small: exact
    assert index.history_scores is not None and index.history_scores.shape == (index.num_products,) * 2
    user = _user_with_history(client)
    body = client.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    assert body["strategy"] == "item_regression" and len(body["items"]) == 5
    got = [item["product"]["id"] for item in body["items"]]
    seen = set(index.catalog.user_history(user)[0].tolist())
    exact = _exact_scores(index, seen)
    score = dict(zip(index.catalog.product_ids, exact, strict=True))
    best = _model_top(index, exact, seen, 5)
    np.testing.assert_allclose([score[pid] for pid in got], [score[pid] for pid in best], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose([item["score"] for item in body["items"]], [score[pid] for pid in got], rtol=1e-6)
    # The exact scores are the model's: at the sample's size its factors are exact too (rank 512 >= products).
    user_vector = bundle.user_embeddings[bundle.id_maps["user"].index(user)]
    factored = dict(zip(bundle.id_maps["product"], bundle.product_embeddings @ user_vector, strict=True))
    np.testing.assert_allclose([factored[pid] for pid in got], [score[pid] for pid in got], atol=2e-3)


def test_an_event_adds_its_products_row_and_a_new_user_is_served_from_it(served: tuple[TestClient, Settings]) -> None:
    """EASE's own update: after a purchase of product j the user's vector is their history's rows plus j's row,
    so the next answer is the model's ranking for the history with j in it; a visitor the bundle never saw is
    ranked by j's row alone."""
    client = served[0]
    index = client.app.state.service.index  # type: ignore[attr-defined]
    user = _user_with_history(client)
    history = set(index.catalog.user_history(user)[0].tolist())
    before = [i["product"]["id"] for i in client.get(f"/users/{user}/recommendations").json()["items"]]
    bought = index.catalog.product_index[before[0]]
    r = client.post("/events", json={"user_id": user, "product_id": before[0], "type": "purchase"})
    assert r.status_code == 202, r.text
    after = client.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    exact = _exact_scores(index, history | {bought})
    assert after["strategy"] == "item_regression"
    expected = _model_top(index, exact, history | {bought}, 5)
    got = [i["product"]["id"] for i in after["items"]]
    scores = dict(zip(index.catalog.product_ids, exact, strict=True))
    np.testing.assert_allclose([scores[p] for p in got], [scores[p] for p in expected], rtol=1e-6, atol=1e-7)
    client.post("/events", json={"user_id": "ease-visitor", "product_id": before[1], "type": "view"})
    visitor = client.get("/users/ease-visitor/recommendations", params={"k": 3}).json()
    j = index.catalog.product_index[before[1]]
    assert visitor["strategy"] == "item_regression"
    exact = _exact_scores(index, {j})
    expected = _model_top(index, exact, {j}, 3)
    scores = dict(zip(index.catalog.product_ids, exact, strict=True))
    np.testing.assert_allclose([scores[i["product"]["id"]] for i in visitor["items"]],
                               [scores[p] for p in expected], rtol=1e-6, atol=1e-7)


def test_an_unknown_user_gets_popular_products(served: tuple[TestClient, Settings]) -> None:
    body = served[0].get("/users/nobody-at-all/recommendations", params={"k": 3}).json()
    assert body["strategy"] == "popular" and len(body["items"]) == 3


def test_export_recs_ranks_by_the_scores_serving_ranks_by(served: tuple[TestClient, Settings]) -> None:
    """``cartograph export-recs``'s scores for an exact EASE bundle (:class:`gnn.history.BundleItemRegressionScores`,
    over the graph's interactions, in the bundle's product order) are the API's, product for product."""
    client, settings = served
    index = client.app.state.service.index  # type: ignore[attr-defined]
    bundle = load_bundle(settings.artifacts_dir)
    with open_store(settings) as store:
        snapshot = snapshot_from_store(store)
    own = bundle_item_regression_scores(bundle, lambda: snapshot)
    assert own is not None
    users = [u for u in sorted(index.user_index) if not u.startswith("ease-")][:30]
    scores = own([*users, "no-such-user"])
    assert not scores[-1].any() and scores[:-1].any(axis=1).all()
    columns = [index.catalog.product_index[pid] for pid in bundle.id_maps["product"]]
    for row, user in enumerate(users):
        graph_products = set(index.catalog.user_history(user)[0].tolist())
        np.testing.assert_allclose(scores[row], _exact_scores(index, graph_products)[columns], rtol=1e-5, atol=1e-6)
