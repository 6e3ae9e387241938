"""Personalised, graph-aware product search over the serving index (no database round trip).

1. Understanding (:mod:`api.serving.understand`): spelling correction, price and negation phrases, entity
   linking, typed constraints (brand, product type, colour, size, quantity, audience...).
2. Three candidate lists, each within the request's filters and the query's filter constraints (price,
   negation): BM25 over product texts, dense similarity of the query's MiniLM embedding to the product texts'
   (only above :data:`DENSE_FLOOR`), and graph expansion (products connected to the linked nodes, more specific
   nodes weighing more: ``log(1 + P / degree)``, then popularity).
3. No match: when the query names a product type and no candidate is of its head type (by title or category:
   the type the rest of the query modifies, "lamp" of "gel nail polish uv lamp"), or when no
   candidate holds every word of the query, none keeps all its typed constraints (being of the type it names)
   and none is similar enough by meaning alone (the ranker's ``no_match_similarity``, over the candidates that
   share none of its words), the answer is empty, with suggestions and the reason.
4. The ranker (:mod:`api.serving.ranker`: learned lambdarank, or hand-set weights) scores the candidates'
   features (:mod:`api.serving.features`).
5. With a user: the ranker's order and the user's model affinity order are fused, the personal rank weighing
   ``personal_weight`` (the ranker's, tuned on validation queries, unless
   ``CARTOGRAPH_SEARCH_PERSONAL_WEIGHT`` sets one) against the ranker's 1, among products the ranker scores
   within the tie band of each other (the ranker's, tuned with the weight, unless
   ``CARTOGRAPH_SEARCH_PERSONAL_TIE_BAND`` sets one), and only for a user whose model likes the query's
   candidates more than the catalog's products at large (:func:`user_interest` at least the ranker's
   ``personal_gate``, tuned with the weight, unless ``CARTOGRAPH_SEARCH_PERSONAL_GATE`` sets one): a shopper of
   eyeliners searching "eyeliner" is personalised; one whose history says nothing about staplers gets the
   ranker's order for "stapler".
6. Final order: first by how many of the query's rank constraints a product keeps, then by score. So neither
   the ranker nor personalisation can put a product that breaks a typed constraint (a brand, a type, a
   colour) above one that keeps it. Personalisation moves a product only among those that also hold the
   same share of the query's words no constraint said ("men" of "razor for men"; :func:`final_order`).

A query none of whose words the catalog knows, that matches nothing (3.), or whose filters leave nothing,
answers no items and a few suggestions: never filler. Each hit lists what matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from api.serving.features import FEATURES, RRF_K, Retrieval, feature_matrix, kept_counts
from api.serving.index import ServingIndex
from api.serving.linking import Mention
from api.serving.query_encoder import QueryEncoder
from api.serving.recommend import top_k
from api.serving.text import terms
from api.serving.understand import Understanding

CANDIDATES_PER_LIST = 200
#: Dense similarities below this neither bring a candidate in nor count as a "semantic" match: MiniLM finds
#: some product about 0.4 similar to almost any string, made-up words included.
DENSE_FLOOR = 0.45
MIN_SEMANTIC = DENSE_FLOOR


@dataclass(frozen=True)
class SearchHit:
    index: int
    score: float
    matched: list[str]


@dataclass
class SearchResult:
    mentions: list[Mention]
    hits: list[SearchHit]
    personalised: bool
    retrieval: dict[str, int] = field(default_factory=dict)
    understanding: Understanding | None = None
    suggestions: list[str] = field(default_factory=list)
    ranker: str = ""
    no_match: str = ""
    """Why nothing was answered (empty when there are hits): see :func:`no_match_explanation`."""
    degraded: list[str] = field(default_factory=list)
    """Steps skipped under load (:attr:`Retrieval.skipped`)."""


def _ranks(scores: np.ndarray, mask: np.ndarray, n: int, floor: float = 0.0) -> dict[int, int]:
    """Product -> rank (0-based) of the top ``n`` scores above ``floor`` within ``mask``."""
    masked = np.where(mask & (scores > floor), scores, -np.inf)
    return {int(i): r for r, i in enumerate(top_k(masked, n))}


def graph_scores(index: ServingIndex, mentions: list[Mention]) -> np.ndarray:
    """Per product, the summed specificity of the linked nodes it is connected to."""
    c = index.catalog
    out = np.zeros(c.num_products, dtype=np.float32)
    for m in mentions:
        members = c.members[m.node_type].row(m.index)
        if len(members):
            out[members] += np.log1p(c.num_products / len(members))
    # Popularity breaks ties among products matching the same nodes (a tiny fraction of one node's weight).
    return np.where(out > 0, out + 1e-3 * np.log1p(c.popularity), 0.0).astype(np.float32)


def retrieve(index: ServingIndex, u: Understanding, mask: np.ndarray, encoder: QueryEncoder | None,
             dense_wait_s: float | None = None) -> Retrieval:
    """The three candidate lists of an understood query (an empty search text: the most popular products
    within the mask, for queries that are all filter, e.g. "under $10"). ``dense_wait_s``: the longest wait for
    the query's vector (None: no limit); past it the dense list is skipped (:mod:`api.serving.query_encoder`)."""
    c = index.catalog
    text = u.search_text
    lexical = index.bm25.scores(text)
    ranks = {"bm25": _ranks(lexical, mask, CANDIDATES_PER_LIST)}
    dense, skipped, vec = None, [], None
    if encoder is not None and index.text_emb is not None and text.strip():
        vec = encoder.encode_within(text, dense_wait_s)
        if vec is None:
            skipped.append(f"dense retrieval: the text model was busy (more than {1000 * (dense_wait_s or 0):.0f} "
                           "ms of queued queries); answered from BM25 and the graph")
        else:
            dense = index.text_emb @ vec
            ranks["dense"] = _ranks(dense, mask, CANDIDATES_PER_LIST, DENSE_FLOOR)
    graph = graph_scores(index, u.mentions)
    ranks["graph"] = _ranks(graph, mask, CANDIDATES_PER_LIST)
    if not terms(text) and not u.mentions and u.of("filter"):
        ranks["popular"] = _ranks(np.log1p(c.popularity) + 1e-6, mask, CANDIDATES_PER_LIST)
    return Retrieval(ranks, lexical, dense, graph, skipped, query_vector=vec)


def candidate_features(index: ServingIndex, u: Understanding, r: Retrieval, cand: np.ndarray) -> np.ndarray:
    """The ranking features of ``cand`` (what the ranker serves with, and is trained on)."""
    return feature_matrix(u, r, cand, bm25_index=index.bm25, catalog=index.catalog,
                          title_terms=index.parser.title_terms, query_terms=terms(u.search_text),
                          title_heads=index.parser.title_heads, title_emb=index.title_emb,
                          title_bm25=index.title_bm25, category_emb=index.category_emb)


_COL = {name: j for j, name in enumerate(FEATURES)}


#: Why a query matched nothing (``SearchResult.no_match``), keyed by :func:`no_match_reason`'s answer.
NO_TYPE, NO_MATCH = "no_type", "no_match"


def meaning_similarity(features: np.ndarray) -> float:
    """The best dense similarity among candidates that share none of the query's words (0 with none): how near
    the catalog comes to the query by meaning alone. A candidate sharing a word is similar *because* of that
    word ("spring" for "guitar strings", "jacket" for a file jacket): its similarity says nothing more."""
    by_meaning = features[features[:, _COL["text_cover"]] <= 0.0, _COL["dense"]]
    return float(by_meaning.max()) if len(by_meaning) else 0.0


#: A query word no constraint said is asked of a product only when at least this many product texts use it:
#: a word of another language that one description happens to use ("cahier" of "cahier à spirale", in one
#: notebook's French text) is no sign that the query asks for more than its constraints.
MIN_FREE_WORD_DOCS = 2


def free_terms(u: Understanding, query_terms: list[str]) -> list[str]:
    """The query's words that none of its rank constraints said: what a product keeping every constraint must
    still have in its text to be what was asked for ("car" of "car battery": a battery-powered sharpener keeps
    the type battery, and is no car battery)."""
    explained = {t for c in u.of("rank") for t in terms(c.text)}
    return [t for t in dict.fromkeys(query_terms) if t not in explained]


def free_word_cover(index: ServingIndex, u: Understanding, cand: np.ndarray) -> np.ndarray:
    """Per candidate, the share of the query's :func:`free_terms` (those at least :data:`MIN_FREE_WORD_DOCS`
    product texts use) in its text; 1 where there are none."""
    words = [t for t in free_terms(u, terms(u.search_text))
             if len(index.bm25.docs_with(t)) >= MIN_FREE_WORD_DOCS]
    return index.bm25.coverage(words, cand) if words else np.ones(len(cand))


def no_match_reason(features: np.ndarray, similarity_floor: float,
                    free_cover: np.ndarray | None = None) -> str | None:
    """Why a query's candidates hold nothing it asks for, or None when they do.

    :data:`NO_TYPE`: the query names a product type and no candidate *is* of its head type (the type's words in
    its title, or its category; a description that mentions the type does not count). The head, not every
    type named: the others modify it ("gel nail polish uv lamp" asks for a lamp, which no title need call a
    nail polish). :data:`NO_MATCH`: no candidate of its head type (if it names one) has all its words or keeps
    all its typed constraints (with ``free_cover``, from :func:`free_word_cover`: the words no constraint said,
    or a dense similarity of at least :data:`MIN_SEMANTIC`), and none reaches ``similarity_floor`` by meaning
    alone
    (:func:`meaning_similarity`; the path for queries in another language, whose words the catalog does not
    use)."""
    if not len(features):
        return NO_MATCH
    has_type = features[:, _COL["product_types"]].max() > 0
    of_type = features[:, _COL["head_type_held"]] >= 1.0 if has_type else np.ones(len(features), dtype=bool)
    if not of_type.any():
        return NO_TYPE
    all_words = (features[:, _COL["query_terms"]] > 0) & (features[:, _COL["text_cover"]] >= 1.0)
    # Keeping every typed constraint is a match only with the query's other words, or near it in meaning.
    free = np.ones(len(features)) if free_cover is None else free_cover
    rest_there = (free >= 1.0) | (features[:, _COL["dense"]] >= MIN_SEMANTIC)
    all_kept = (features[:, _COL["constraints"]] > 0) & (features[:, _COL["all_kept"]] >= 1.0) & rest_there
    if (of_type & (all_words | all_kept)).any():
        return None
    return NO_MATCH if meaning_similarity(features) < similarity_floor else None


def matches_nothing(features: np.ndarray, similarity_floor: float) -> bool:
    """Whether :func:`no_match_reason` finds a reason."""
    return no_match_reason(features, similarity_floor) is not None


def search(index: ServingIndex, query: str, k: int, *, encoder: QueryEncoder | None,
           filter_mask: np.ndarray | None = None, user_vector: np.ndarray | None = None,
           personal_weight: float | None = None, dense_wait_s: float | None = None,
           personal_tie_band: float | None = None, personal_gate: float | None = None) -> SearchResult:
    """Answer ``query`` (see the module docstring). ``personal_weight``, ``personal_tie_band`` and
    ``personal_gate`` None: the ranker's own; ``dense_wait_s``: see :func:`retrieve`."""
    u = index.parser.parse(query)
    mask = index.catalog.active.copy() if filter_mask is None else index.catalog.active & filter_mask
    if u.filter_mask is not None:
        mask &= u.filter_mask
    nothing_known = u.known_terms == 0 and not u.mentions and not (not terms(u.search_text) and u.of("filter"))
    r = retrieve(index, u, mask, encoder, dense_wait_s) if not nothing_known \
        else Retrieval({}, np.zeros(0), None, np.zeros(0))
    cand = r.candidates()
    ranker = index.ranker
    result = SearchResult(u.mentions, [], False, {name: len(x) for name, x in r.ranks.items()}, u,
                          ranker=ranker.name, degraded=list(r.skipped))
    features = candidate_features(index, u, r, cand) if len(cand) else np.zeros((0, len(FEATURES)), np.float32)
    filter_only = not terms(u.search_text) and not u.mentions and bool(u.of("filter"))
    cover = free_word_cover(index, u, cand) if len(cand) else np.ones(0)
    reason = (no_match_reason(features, ranker.no_match_similarity, cover)
              if len(cand) and not filter_only else None)
    if reason is not None:
        cand = cand[:0]
    if not len(cand):
        filtered = filter_mask is not None or bool(u.of("filter"))
        result.no_match = no_match_explanation(u, reason or (None if filtered else NO_MATCH), nothing_known)
        result.suggestions = index.parser.suggestions(u)
        return result
    weight = ranker.personal_weight if personal_weight is None else personal_weight
    gate = ranker.personal_gate if personal_gate is None else personal_gate
    affinity = None
    if user_vector is not None and weight > 0:
        affinity = _affinity(index, cand, user_vector)
        if gate is not None and user_interest(index, cand, user_vector, affinity) < gate:
            affinity = None  # the user's model says nothing about this query: the ranker's order
    personalised = affinity is not None
    order, fused = final_order(ranker.score(features), kept_counts(u, cand), cand, affinity, weight, cover,
                               tie_band=ranker.personal_tie_band if personal_tie_band is None else personal_tie_band)
    order = order[:k]
    result.personalised = personalised
    result.hits = [SearchHit(int(cand[j]), float(fused[j]),
                             _matched(index, u, int(cand[j]), r, personalised)) for j in order]
    return result


def no_match_explanation(u: Understanding, reason: str | None, nothing_known: bool) -> str:
    """One line for the response: why a query answered nothing."""
    if nothing_known:
        return "the catalog uses none of the query's words"
    if reason == NO_TYPE:
        head = next((c.value for c in u.constraints if c.kind == "product_type" and c.head), "")
        return f"no product in the catalog is a {head} (no title or category names it)"
    if reason == NO_MATCH:
        return ("no product has all the query's words or keeps all its constraints, and none is similar "
                "enough in meaning")
    return "the filters leave no product"


def final_order(scores: np.ndarray, tiers: np.ndarray, cand: np.ndarray, affinity: np.ndarray | None,
                personal_weight: float, word_cover: np.ndarray | None = None,
                tie_band: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positions of ``cand`` best first, fused score per candidate): the ranker's rank fused with the personal
    rank (``affinity``, None: not personalised) by ``personal_weight``, ordered first by ``tiers`` (rank
    constraints kept), so no weight lifts a product breaking a typed constraint above one keeping it.

    With ``word_cover`` (:func:`free_word_cover`: the share of the query's words no constraint said that each
    candidate's text holds), personalisation only reorders candidates that keep as many constraints *and* hold
    the same share of those words: each such group keeps the places the ranker gave it, and the user's order
    decides who of the group takes which. "razor for men" stays the men's razors first for a shopper of
    women's ones; "eyeliner", whose words a constraint says, is personalised whole.

    With ``tie_band`` (None: no band), a group is further cut, best first, into runs whose ranker scores lie
    within ``tie_band`` standard deviations of the query's ranker scores of the run's first: the user reorders
    only what the ranker could hardly tell apart, never a product the ranker is sure is better
    (:func:`tie_runs`). In units of the query's own spread, so the band means the same for a retrained ranker
    whose scores have another scale."""
    base = _rank_fusion(scores)
    order = np.lexsort((cand, -base, -tiers))
    if affinity is None or personal_weight <= 0:
        return order, base
    fused = base + personal_weight * _rank_fusion(affinity)
    if word_cover is None and tie_band is None:
        return np.lexsort((cand, -fused, -tiers)), fused
    # One key per (tier, cover): cover lies in [0, 1], so 2 x tier + cover never mixes two tiers.
    groups = tiers * 2.0 + (np.round(word_cover, 3) if word_cover is not None else 0.0)
    if tie_band is not None:
        groups = tie_runs(order, groups, scores, tie_band * score_spread(scores))
    return _reordered_within_groups(order, fused, groups, cand), fused


def score_spread(scores: np.ndarray) -> float:
    """The standard deviation of the finite ``scores`` (0.0 with fewer than two)."""
    finite = scores[np.isfinite(scores)]
    return float(finite.std()) if len(finite) > 1 else 0.0


def tie_runs(order: np.ndarray, groups: np.ndarray, scores: np.ndarray, band: float) -> np.ndarray:
    """A run id per candidate: walking ``order`` (best first), a new run starts where the group changes or the
    score falls more than ``band`` below the run's first score, so a run never spans more than ``band``."""
    runs = np.empty(len(order), dtype=np.float64)
    run, head_group, head_score = -1, None, 0.0
    for j in order:
        if groups[j] != head_group or scores[j] < head_score - band:
            run, head_group, head_score = run + 1, groups[j], float(scores[j])
        runs[j] = run
    return runs


def _reordered_within_groups(order: np.ndarray, fused: np.ndarray, groups: np.ndarray,
                             cand: np.ndarray) -> np.ndarray:
    """``order`` with each group's places (``groups``: a key per candidate) refilled by its members best
    ``fused`` first."""
    out = order.copy()
    group_of_place = groups[order]
    for group in np.unique(group_of_place):
        places = np.flatnonzero(group_of_place == group)
        members = order[places]
        out[places] = members[np.lexsort((cand[members], -fused[members]))]
    return out


def _rank_fusion(scores: np.ndarray) -> np.ndarray:
    """``1 / (RRF_K + rank)`` of each score in ``scores`` (-inf ranks last): rank-based, so the ranker's and the
    personal scores need no common scale."""
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return np.where(np.isfinite(scores), 1.0 / (RRF_K + ranks), 0.0)


def user_interest(index: ServingIndex, cand: np.ndarray, user_vector: np.ndarray,
                  affinity: np.ndarray | None = None) -> float:
    """How much the user's model likes the query's candidates ``cand``: their mean model score, in standard
    deviations of the user's scores over every active product with an embedding, above that mean (a z-score:
    the catalog's mean exact, its spread from a fixed sample, :meth:`ServingIndex.catalog_moments`; 0.0 where
    there is nothing to compare). The labels of a query say what it asks for, not whom it suits: a
    user whose history bears on it (a z well above 0) is worth personalising for, a user whose model is
    indifferent to its candidates would only shuffle products of equal relevance. ``affinity``: the candidates'
    scores when already computed (:func:`_affinity`)."""
    scores = _affinity(index, cand, user_vector) if affinity is None else affinity
    scores = scores[np.isfinite(scores)]
    mean, centred = index.catalog_moments()
    if not len(scores) or len(centred) < 2:
        return 0.0
    vector = user_vector.astype(np.float32)
    spread = float((centred @ vector).std())
    return float(scores.mean() - mean @ vector) / spread if spread > 0 else 0.0


def _affinity(index: ServingIndex, cand: np.ndarray, user_vector: np.ndarray) -> np.ndarray:
    return np.where(index.has_embedding[cand], index.product_emb[cand] @ user_vector, -np.inf)


def _matched(index: ServingIndex, u: Understanding, i: int, r: Retrieval, personalised: bool) -> list[str]:
    c = index.catalog
    out = []
    for m in u.mentions:
        if m.index in set(c.attributes[m.node_type].row(i).tolist()):
            out.append(f"{m.node_type}={m.name}")
    for con in u.constraints:
        if con.how == "rank" and con.keep is not None and con.keep[i]:
            out.append(f"{con.kind}={con.value}")
    if i in r.ranks.get("bm25", {}):
        words = index.bm25.matched_terms(u.search_text, i)
        if words:
            out.append("text: " + ", ".join(words))
    if r.dense is not None and i in r.ranks.get("dense", {}):
        out.append(f"semantic similarity {r.dense[i]:.2f}")
    if personalised:
        out.append("ranked for you")
    return list(dict.fromkeys(out))
