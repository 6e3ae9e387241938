"""The API serving an EASE bundle (``gnn.baselines.ease``) end to end on the sample graph: a closed-form model
with no weights file is served from the vectors the bundle stores, as every non-sequence model is."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import home_with_text_cache
from fastapi.testclient import TestClient

from api.main import create_app
from cartograph.commands.quickstart import train_quick
from gnn.bundle import load_bundle
from kg.config import Settings
from kg.ingest.run import run_ingest


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    home = home_with_text_cache(tmp_path_factory.mktemp("api-ease"))
    settings = Settings(store_backend="embedded", home=home, neo4j_uri=None, bundle_watch_s=0)
    run_ingest(settings, settings.sample_dir, progress=False)
    train_quick(settings, 1, progress=False, model="ease")
    with TestClient(create_app(settings)) as client:
        yield client, settings


def test_the_bundle_records_a_closed_form_model(served: tuple[TestClient, Settings]) -> None:
    bundle = load_bundle(served[1].artifacts_dir)
    assert bundle.config.model == "ease" and bundle.metrics["stopped_by"] == "closed form"
    assert bundle.user_embeddings.shape[1] == bundle.product_embeddings.shape[1]


def test_a_known_user_gets_the_models_ranking(served: tuple[TestClient, Settings]) -> None:
    client, settings = served
    bundle = load_bundle(settings.artifacts_dir)
    index = client.app.state.service.index  # type: ignore[attr-defined]
    user = next(u for u in sorted(index.user_index) if len(index.catalog.user_history(u)[0]) >= 3)
    body = client.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    assert body["strategy"] == "personalised" and len(body["items"]) == 5
    got = [item["product"]["id"] for item in body["items"]]
    user_vector = bundle.user_embeddings[bundle.id_maps["user"].index(user)]
    user_vector = user_vector / np.linalg.norm(user_vector)
    score = dict(zip(bundle.id_maps["product"], bundle.product_embeddings @ user_vector, strict=True))
    seen = set(index.catalog.user_history(user)[0].tolist())
    candidates = [pid for pid, i in index.catalog.product_index.items()
                  if index.recommendable[i] and i not in seen and pid in score]
    best = sorted(candidates, key=lambda pid: -score[pid])[:5]
    np.testing.assert_allclose([score[pid] for pid in got], [score[pid] for pid in best], rtol=1e-5)
    served_scores = [item["score"] for item in body["items"]]  # served in half precision
    np.testing.assert_allclose(served_scores, [score[pid] for pid in got], atol=1e-3)


def test_an_unknown_user_gets_popular_products(served: tuple[TestClient, Settings]) -> None:
    body = served[0].get("/users/nobody-at-all/recommendations", params={"k": 3}).json()
    assert body["strategy"] == "popular" and len(body["items"]) == 3
