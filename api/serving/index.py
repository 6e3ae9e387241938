"""The in-memory serving index: everything the hot path needs, built once per bundle.

:func:`build_index` aligns the bundle's embeddings with the catalog (products added to the graph after
training get inductive GNN embeddings from their text and edges when the bundle has a GNN encoder), encodes
product texts for dense search (through the on-disk text cache that training fills), and builds the BM25
index, the entity linker and the filter resolver. :func:`load_index` does that for the current bundle of
``settings.artifacts_dir`` and the catalog read from the graph store (or, when the store cannot be read, from
the bundle alone). A built index is never mutated; a reload builds a new one and swaps a reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from api.serving.bm25 import BM25Index
from api.serving.catalog import (
    ATTRIBUTE_RELATIONS,
    Catalog,
    catalog_from_bundle,
    catalog_from_snapshot,
    read_prices,
)
from api.serving.filters import FilterResolver
from api.serving.glossary import Glossary, default_cache_dir, installed_glossaries
from api.serving.linking import EntityLinker
from api.serving.ranker import Ranker, fallback_ranker, load_ranker
from api.serving.understand import QueryParser
from gnn.bundle import Bundle, current_bundle_path, load_bundle
from gnn.history import HistoryEncoder
from gnn.recent import weight_of
from gnn.transitions import TransitionLookup
from kg.config import Settings
from kg.errors import CartographError
from kg.store import GraphStore
from kg.text import TextEncoder

log = logging.getLogger("cartograph.api")


@dataclass
class ServingIndex:
    """One bundle joined with one catalog, ready to serve. Arrays are aligned with ``catalog.product_ids``."""

    version: str
    model: str
    created: str
    catalog: Catalog
    product_emb: np.ndarray
    product_unit: np.ndarray
    has_embedding: np.ndarray
    recommendable: np.ndarray
    user_emb: np.ndarray
    user_index: dict[str, int]
    text_emb: np.ndarray | None
    """``[P, d]`` unit vectors of each product's title and description (None: no dense search)."""
    title_emb: np.ndarray | None
    """``[P, d]`` unit vectors of each product's title alone (a ranking feature; None with ``text_emb``)."""
    bm25: BM25Index
    linker: EntityLinker
    filters: FilterResolver
    parser: QueryParser
    ranker: Ranker
    inductive_products: int = 0
    title_bm25: BM25Index | None = None
    """BM25 over the titles alone (a ranking feature; None: its features are 0)."""
    category_emb: np.ndarray | None = None
    """``[C, d]`` unit vectors of the category names (a ranking feature; None with ``text_emb``)."""
    #: Sequence bundles: the user vector from the ordered history and events (None: the stored user vectors).
    history_encoder: HistoryEncoder | None = None
    notes: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    reason_similarity: float = 1.0
    """Cosine above which a recommendation may say "similar to X" (see :func:`reason_threshold`)."""
    recent_weight: float = 0.5
    """Weight of a user's recent events against their long history (chosen on validation: :mod:`gnn.recent`)."""
    product_half: torch.Tensor | None = None
    """``product_emb``'s first ``scored_width`` columns in float16, read by :meth:`model_scores` (None: it reads
    ``product_emb``)."""
    scored_width: int | None = None
    """The leading columns a model user vector can be non-zero in (a sequence bundle's transition channel ends
    with rows only a history reads): the float16 table keeps only those. None: every column."""
    transition_lookup: TransitionLookup | None = None
    """A sequence bundle's exact transition scores, added to :meth:`model_scores` for the user's newest items
    (:class:`gnn.transitions.TransitionLookup`), over the catalog's histories in catalog order; None: off."""
    history_rows: np.ndarray | None = None
    """An EASE bundle's ``[P, d]`` history rows in catalog order (:meth:`gnn.baselines.ease.EASE.serving_state`):
    a user's vector is the sum of the rows of every product they have, events included; zero rows for products
    added after training (they predict nothing yet). None for every other model."""
    _catalog_moments: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    """Cache of :meth:`catalog_moments`."""
    history_scores: np.ndarray | None = None
    """An EASE bundle's item-item weights ``B`` ``[P, P]`` (float16) in catalog order, rows and columns, where it
    ranks by its exact scores: a user's scores are the sum of the rows of every product they have; zero rows and
    columns for products added after training. None for every other model and above EASE's exact size."""

    def model_scores(self, vector: np.ndarray) -> np.ndarray:
        """``[P]`` float32: every product's dot product with a model user ``vector`` ``[d]``.

        Scoring the whole catalog reads the whole ``[P, d]`` table once per request, so its time is memory
        traffic (a 1,280-wide amazon-beauty table is 62 MB in float32): the table is read in float16, half the
        bytes, with the products accumulated in float32. A score moves by about 1e-3 of its size: two products
        that close may swap in a list (``bench/serve_precision.py`` counts how often on a real bundle).
        """
        if self.product_half is None or not _fits_half(vector):
            return self.product_emb @ vector.astype(np.float32)
        with torch.no_grad():
            half = torch.from_numpy(np.ascontiguousarray(vector[:self.product_half.size(1)], dtype=np.float16))
            return torch.mv(self.product_half, half).float().numpy()

    def catalog_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(``[d]`` the mean row of ``product_emb`` over the active products with an embedding, ``[s, d]`` a fixed
        seeded sample of at most :data:`MOMENT_SAMPLE` of those rows, centred): a user's mean score over the catalog
        is the mean row's dot product, exact, and their scores' spread is read from the sample, so that
        :func:`api.serving.search.user_interest` costs ``s x d``, not a pass over the whole table. Made once."""
        if self._catalog_moments is None:
            rows = np.flatnonzero(self.has_embedding & self.catalog.active)
            mean = self.product_emb[rows].mean(axis=0) if len(rows) else np.zeros(self.product_emb.shape[1])
            picked = np.random.default_rng(0).choice(rows, size=min(MOMENT_SAMPLE, len(rows)), replace=False)
            self._catalog_moments = (mean.astype(np.float32),
                                     (self.product_emb[np.sort(picked)] - mean).astype(np.float32))
        return self._catalog_moments

    @property
    def num_products(self) -> int:
        return self.catalog.num_products

    def summary(self) -> dict[str, Any]:
        return {
            "bundle_version": self.version, "model": self.model, "bundle_created": self.created,
            "catalog_source": self.catalog.source, "snapshot_id": self.catalog.snapshot_id,
            "products": self.num_products, "recommendable_products": int(self.recommendable.sum()),
            "inductive_products": self.inductive_products, "users_with_embedding": len(self.user_index),
            "dense_search": self.text_emb is not None, "build_seconds": round(self.build_seconds, 2),
            "reason_similarity": round(self.reason_similarity, 3), "recent_weight": self.recent_weight,
            "search_ranker": self.ranker.name,
            "notes": list(self.notes),
        }


#: "Similar to X" needs a cosine that random pairs of products reach at most this rarely.
RANDOM_PAIR_QUANTILE = 0.99
#: Products sampled to estimate the spread of a user's scores over the catalog (:meth:`ServingIndex.catalog_moments`):
#: the standard error of a standard deviation from n draws is about 1/sqrt(2n) of it, 1.6% at 2,000.
MOMENT_SAMPLE = 2000
#: Never below this, whatever the measurement (an embedding where random pairs are all near 0).
MIN_REASON_SIMILARITY = 0.3


def reason_threshold(unit: np.ndarray, has: np.ndarray, *, pairs: int = 20_000, seed: int = 0) -> float:
    """The cosine that only ``1 - RANDOM_PAIR_QUANTILE`` of random product pairs reach, measured on this
    bundle's embeddings (a toothbrush and a digital caliper are such a random pair: in one bundle their
    cosine was 0.4, a fixed threshold of 0.3 called them similar). Floored at :data:`MIN_REASON_SIMILARITY`."""
    idx = np.flatnonzero(has)
    if len(idx) < 3:
        return 1.0  # too few products to tell similar from random: never say "similar to"
    rng = np.random.default_rng(seed)
    a, b = rng.choice(idx, pairs), rng.choice(idx, pairs)
    keep = a != b
    sims = np.einsum("ij,ij->i", unit[a[keep]], unit[b[keep]])
    return max(MIN_REASON_SIMILARITY, float(np.quantile(sims, RANDOM_PAIR_QUANTILE)))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def _inductive(bundle: Bundle, catalog: Catalog, new: np.ndarray, text_emb: np.ndarray | None) -> np.ndarray:
    """GNN embeddings for catalog products ``new`` that the bundle was not trained with."""
    from gnn.inductive import InductiveEncoder, NewProduct

    encoder = InductiveEncoder(bundle)
    products = []
    for i in new:
        attrs = {t: [catalog.node_ids[t][j] for j in catalog.attributes[t].row(int(i))] for t in ATTRIBUTE_RELATIONS}
        links = {rel: [catalog.product_ids[j] for j in catalog.links[rel].row(int(i))] for rel in catalog.links}
        products.append(NewProduct(id=catalog.product_ids[int(i)], text=catalog.texts[int(i)],
                                   brands=attrs["brand"], categories=attrs["category"], entities=attrs["entity"],
                                   also_bought=links["also_bought"], also_viewed=links["also_viewed"],
                                   bought_together=links["bought_together"]))
    features = text_emb[new] if text_emb is not None else None
    result = encoder.embed(products, text_features=features)
    return result.embeddings.numpy().astype(np.float32)


#: Largest magnitude read in float16 (its range ends at 65,504; a product of two such values must not overflow
#: the float32 accumulator either, which it cannot).
HALF_LIMIT = 1e4


def _fits_half(values: np.ndarray) -> bool:
    """Whether every value is finite and small enough for :attr:`ServingIndex.product_half`."""
    return bool(values.size == 0 or np.abs(values).max() < HALF_LIMIT)


def _transition_lookup(encoder: HistoryEncoder | None, catalog: Catalog,
                       text_emb: np.ndarray | None) -> TransitionLookup | None:
    """The bundle model's transition lookup over every history the catalog knows (what follows what, as of
    now), in catalog order, products nothing was followed by given their text neighbours' columns when the
    model chose that and the catalog's text is embedded; None for a model without one."""
    if encoder is None or not encoder.model.has_transition_lookup:
        return None
    ptr, idx = catalog.history.ptr, catalog.history.idx
    histories = [idx[ptr[u]:ptr[u + 1]] for u in range(len(ptr) - 1)]
    return encoder.model.transition_lookup(histories, catalog.num_products, text_emb)


def build_index(bundle: Bundle, catalog: Catalog, *, text_encoder: TextEncoder | None,
                ranker: Ranker | None = None, float16: bool = True,
                glossaries: Sequence[Glossary] = ()) -> ServingIndex:
    """Join ``bundle`` with ``catalog`` (see the module docstring). ``text_encoder=None``: no dense search;
    ``ranker=None``: the hand-set search weights; ``float16=False``: recommendations scored in float32
    (:meth:`ServingIndex.model_scores`); ``glossaries``: the bilingual dictionaries search reads queries in
    other languages with (:mod:`api.serving.translate`)."""
    start = time.perf_counter()
    notes: list[str] = []
    n = catalog.num_products
    dim = int(bundle.product_embeddings.shape[1])
    emb = np.zeros((n, dim), dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    bundle_rows = [(catalog.product_index.get(pid), j) for j, pid in enumerate(bundle.id_maps.get("product", []))]
    pairs = np.array([(i, j) for i, j in bundle_rows if i is not None], dtype=np.int64).reshape(-1, 2)
    emb[pairs[:, 0]] = bundle.product_embeddings[pairs[:, 1]]
    has[pairs[:, 0]] = True
    dropped = len(bundle_rows) - len(pairs)
    if dropped:
        notes.append(f"{dropped} bundle products are no longer in the graph (not served)")

    text_emb = title_emb = category_emb = None
    if text_encoder is not None and catalog.source == "store":
        text_emb = _unit(text_encoder.encode(catalog.texts))
        title_emb = _unit(text_encoder.encode(catalog.titles))
        names = [catalog.display_name("category", i) for i in range(len(catalog.node_ids.get("category", [])))]
        category_emb = _unit(text_encoder.encode(names)) if names else None

    new = np.flatnonzero(~has)
    inductive = 0
    if len(new):
        try:
            emb[new] = _inductive(bundle, catalog, new, text_emb)
            has[new] = True
            inductive = len(new)
            notes.append(f"{inductive} products added after training embedded inductively")
        except (ValueError, RuntimeError, KeyError) as e:
            notes.append(f"{len(new)} products added after training have no embedding ({e}); search finds them")
    user_ids = bundle.id_maps.get("user", [])
    history_encoder = HistoryEncoder.from_bundle(bundle, emb)
    scored = history_encoder.model.scored_width() if history_encoder is not None else dim
    lookup = _transition_lookup(history_encoder, catalog, text_emb)
    unit = _unit(emb)
    bm25 = BM25Index(catalog.texts)
    linker = EntityLinker(catalog)
    return ServingIndex(
        version=bundle.version, model=str(bundle.manifest.get("model", bundle.config.model)),
        created=str(bundle.manifest.get("created", "")), catalog=catalog,
        product_emb=np.ascontiguousarray(emb), product_unit=unit, has_embedding=has,
        recommendable=has & catalog.active, user_emb=np.ascontiguousarray(bundle.user_embeddings, dtype=np.float32),
        user_index={u: i for i, u in enumerate(user_ids)}, text_emb=text_emb, title_emb=title_emb, bm25=bm25,
        linker=linker, filters=FilterResolver(catalog), parser=QueryParser(catalog, bm25, linker, glossaries),
        ranker=ranker or fallback_ranker(), inductive_products=inductive, title_bm25=BM25Index(catalog.titles),
        category_emb=category_emb,
        history_encoder=history_encoder, notes=notes,
        build_seconds=time.perf_counter() - start, reason_similarity=reason_threshold(unit, has),
        recent_weight=weight_of(bundle.metrics, bundle.config.model),
        product_half=torch.from_numpy(emb[:, :scored].astype(np.float16)) if float16 and _fits_half(emb) else None,
        scored_width=scored, transition_lookup=lookup, history_rows=_history_rows(bundle, n, pairs),
        history_scores=_history_scores(bundle, n, pairs),
    )


def _history_rows(bundle: Bundle, num_products: int, pairs: np.ndarray) -> np.ndarray | None:
    """An EASE bundle's history rows moved to catalog order (``pairs``: catalog index, bundle index)."""
    rows = (bundle.state_dict or {}).get("history_rows") if bundle.config.model == "ease" else None
    if rows is None:
        return None
    out = np.zeros((num_products, rows.shape[1]), dtype=np.float32)
    out[pairs[:, 0]] = rows.numpy()[pairs[:, 1]]
    return out


def _history_scores(bundle: Bundle, num_products: int, pairs: np.ndarray) -> np.ndarray | None:
    """An EASE bundle's exact item-item weights moved to catalog order, rows and columns (``pairs``: catalog
    index, bundle index); no copy when the orders agree (1.2 GB at amazon-book-kgat's 24,915 products)."""
    weights = (bundle.state_dict or {}).get("history_scores") if bundle.config.model == "ease" else None
    if weights is None:
        return None
    table = weights.numpy()
    if len(pairs) == num_products == table.shape[0] and np.array_equal(pairs[:, 0], pairs[:, 1]):
        return table
    out = np.zeros((num_products, num_products), dtype=table.dtype)
    out[np.ix_(pairs[:, 0], pairs[:, 0])] = table[np.ix_(pairs[:, 1], pairs[:, 1])]
    return out


def newest_bundle_version(settings: Settings) -> str:
    """The version the artifacts directory's ``current`` pointer names (FileNotFoundError when none)."""
    return current_bundle_path(settings.artifacts_dir).name


def read_catalog(store: GraphStore | None) -> tuple[Catalog | None, str | None]:
    """The catalog from the store, or ``(None, reason)`` when it cannot be read."""
    if store is None:
        return None, "no graph store"
    from gnn.data import snapshot_from_store

    try:
        snapshot = snapshot_from_store(store)
        return catalog_from_snapshot(snapshot, read_prices(store)), None
    except CartographError as e:
        return None, str(e).splitlines()[0]


def load_index(settings: Settings, store: GraphStore | None, *, dense: bool = True) -> ServingIndex:
    """Build the serving index for the current bundle (FileNotFoundError / ValueError when unusable)."""
    bundle = load_bundle(settings.artifacts_dir)
    catalog, problem = read_catalog(store)
    if catalog is None:
        log.warning("serving from the bundle alone: %s", problem)
        catalog = catalog_from_bundle(bundle)
    encoder = TextEncoder(cache_dir=settings.home / "cache" / "text", num_threads=settings.serve_threads) \
        if dense else None
    ranker, ranker_note = load_ranker(settings.artifacts_dir) if settings.search_ranker == "trained" \
        else (fallback_ranker(), "search ranker: hand-set weights (CARTOGRAPH_SEARCH_RANKER=weights)")
    glossaries = installed_glossaries(settings.search_glossary_cache or default_cache_dir(),
                                      settings.search_dictd_dir) if settings.search_dictionaries else ()
    index = build_index(bundle, catalog, text_encoder=encoder, ranker=ranker, float16=settings.serve_float16,
                        glossaries=glossaries)
    if problem:
        index.notes.append(f"catalog from the bundle only (graph store: {problem})")
    if ranker_note:
        index.notes.append(ranker_note)
    if settings.search_dictionaries:
        index.notes.append("query dictionaries: " + (", ".join(g.name for g in glossaries) or "none installed"))
    log.info("serving index %s built in %.1f s: %s", index.version, index.build_seconds, index.summary())
    return index
