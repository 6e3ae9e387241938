"""The query encoder's batching and its bounded wait: concurrent new queries share forward passes, the same
query is encoded once, an error reaches every waiting caller, and a search that cannot wait answers without
dense retrieval and says so (a stand-in model that counts calls: what is tested is the batcher, not MiniLM,
which tests/test_api.py serves for real)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from api.serving.query_encoder import QueryEncoder
from api.serving.search import search
from kg.text import TextEncoder
from tests.test_search_understanding import _index


class CountingModel(TextEncoder):
    """Encodes a text as a unit vector from its hash, after ``delay_s``, recording each batch it is given."""

    def __init__(self, delay_s: float = 0.0, dim: int = 8, fail: bool = False) -> None:
        super().__init__(cache_dir=None)
        self.delay_s, self.width, self.fail = delay_s, dim, fail
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.release.set()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.release.wait()
        self.batches.append(list(texts))
        time.sleep(self.delay_s)
        if self.fail and texts != ["warm up"]:
            raise RuntimeError("model broken")
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=self.width) for t in texts]
        out = np.array(rows, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_concurrent_new_queries_share_forward_passes_and_repeats_are_encoded_once() -> None:
    model = CountingModel(delay_s=0.05)
    encoder = QueryEncoder(model, max_batch=32)
    encoder.warm_up()
    queries = [f"query {i}" for i in range(24)] * 2  # each asked twice, at once
    with ThreadPoolExecutor(max_workers=48) as pool:
        vectors = list(pool.map(encoder.encode, queries))
    encoded = [t for batch in model.batches[1:] for t in batch]  # after the warm-up
    assert sorted(encoded) == sorted(set(queries))  # each query once
    assert len(model.batches) - 1 < len(set(queries)) // 2  # far fewer passes than queries
    assert all(np.allclose(vectors[i], vectors[i + 24]) for i in range(24))
    assert encoder.queued == 0
    before = len(model.batches)
    encoder.encode("query 3")  # from the cache now
    assert len(model.batches) == before


def test_a_bounded_wait_gives_up_and_the_vector_still_reaches_the_cache() -> None:
    model = CountingModel()
    encoder = QueryEncoder(model)
    encoder.warm_up()
    model.release.clear()  # the model is busy
    assert encoder.encode_within("busy query", 0.05) is None
    model.release.set()
    deadline = time.monotonic() + 5
    while encoder.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    passes = len(model.batches)
    assert encoder.encode_within("busy query", 0.0) is not None  # cached: no wait, no new pass
    assert len(model.batches) == passes


def test_an_encoding_error_reaches_the_caller() -> None:
    encoder = QueryEncoder(CountingModel(fail=True))
    with pytest.raises(RuntimeError, match="model broken"):
        encoder.encode("anything")
    assert encoder.queued == 0


def test_search_answers_without_dense_retrieval_when_the_model_is_busy() -> None:
    index = _index()
    index.text_emb = np.random.default_rng(1).normal(size=(index.num_products, 8)).astype(np.float32)
    model = CountingModel()
    encoder = QueryEncoder(model)
    encoder.warm_up()
    model.release.clear()
    busy = search(index, "maybelline eyeliner", 5, encoder=encoder, dense_wait_s=0.02)
    assert busy.hits and "dense" not in busy.retrieval
    assert busy.degraded and busy.degraded[0].startswith("dense retrieval: the text model was busy")
    model.release.set()
    calm = search(index, "maybelline eyeliner", 5, encoder=encoder, dense_wait_s=5.0)
    assert "dense" in calm.retrieval and not calm.degraded
