"""GET /search."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.contract import error_responses
from api.deps import IndexDep, SettingsDep, StateDep, check_key
from api.models import (
    ID_PATTERN,
    MAX_QUERY_CHARS,
    AppliedConstraint,
    LinkedMention,
    PriceUnderstood,
    QueryTranslation,
    QueryUnderstood,
    SearchHit,
    SearchResults,
    SpellingCorrection,
)
from api.routes.params import FiltersDep, KQuery
from api.routes.present import json_response, product
from api.routes.validation import check_query_text
from api.serving.recommend import user_context
from api.serving.search import search
from api.serving.understand import Understanding

router = APIRouter(tags=["search"])
#: What the schema says of ``q`` (check_query_text refuses the same, and statement-like text besides): a letter
#: or digit of any script, no control characters.
_TEXT = r"[^\x00-\x08\x0b-\x1f\x7f]*"
QUERY_PATTERN = rf"^{_TEXT}[^\W_]{_TEXT}$"
_NAMED_KINDS = ("brand", "product_type", "color", "size", "quantity", "audience")


def understood(u: Understanding) -> QueryUnderstood:
    """The response's account of how the query was read."""
    named: dict[str, list[str]] = {kind: [] for kind in _NAMED_KINDS}
    attributes = []
    for c in u.constraints:
        if c.kind in named:
            named[c.kind].append(c.value)
        elif c.kind not in ("price", "negation") and c.how == "rank" and not c.value.endswith(" free"):
            attributes.append(f"{c.kind}={c.value}")
    price = PriceUnderstood(min=u.price.min, max=u.price.max, phrase=u.price.phrase) if u.price else None
    return QueryUnderstood(
        corrected=u.corrected,
        translations=[QueryTranslation(original=t.original, english=t.english, dictionary=t.source)
                      for t in u.translations],
        corrections=[SpellingCorrection(original=c.original, corrected=c.corrected)
                                            for c in u.corrections],
        search_text=u.search_text, attributes=attributes, price=price, negated=[n.word for n in u.negations],
        unknown_words=u.unknown_words, **named)


def constraints(u: Understanding) -> list[AppliedConstraint]:
    return [AppliedConstraint(kind=c.kind, value=c.value, text=c.text, how=c.how,  # type: ignore[arg-type]
                              products=int(c.keep.sum()) if c.keep is not None else None, note=c.note)
            for c in u.constraints]


@router.get("/search", response_model=SearchResults, responses=error_responses(401, 404, 503))
def get_search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, pattern=QUERY_PATTERN,
                            description="plain words, any script: at least one letter or digit, no control "
                                        "characters")],
    index: IndexDep, state: StateDep, settings: SettingsDep, filters: FiltersDep, k: KQuery = 10,
    user_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="personalise for this user")] = None,
    x_api_key: Annotated[str | None, Header(max_length=256, description="the client key, needed with user_id "
                                            "when CARTOGRAPH_API_KEY is set")] = None,
) -> Response:
    """Search that reads the query first (spelling, brand, type, colour, size, quantity, audience, price,
    negation), retrieves with BM25 + dense MiniLM + graph expansion, ranks with the search ranker and, with a
    ``user_id``, the user's model; products keeping the typed constraints always rank first. The response
    says how the query was understood and which constraints were applied; nothing matched: no items and
    suggestions."""
    if user_id is not None and settings.api_key is not None and settings.api_key.get_secret_value():
        check_key(settings.api_key.get_secret_value(), x_api_key)  # a personalised search reads the user's data
    text = check_query_text(q)
    vector = None
    weight = state.settings.search_personal_weight
    if user_id is not None and (index.ranker.personal_weight if weight is None else weight) > 0:
        vector = user_context(index, user_id, state.recent.get(user_id)).vector
    result = search(index, text, k, encoder=state.encoder, filter_mask=index.filters.mask(filters),
                    user_vector=vector, personal_weight=weight, dense_wait_s=_seconds(settings.search_dense_wait_ms),
                    personal_tie_band=settings.search_personal_tie_band,
                    personal_gate=settings.search_personal_gate)
    u = result.understanding
    assert u is not None  # search always returns its understanding
    query_id = uuid.uuid4().hex
    items = [SearchHit(rank=r + 1, score=h.score, matched=h.matched, product=product(index, h.index))
             for r, h in enumerate(result.hits)]
    state.feedback.search(query_id, text, user_id, [i.product.id for i in items])
    return json_response(SearchResults(
        query=text, query_id=query_id, user_id=user_id, personalised=result.personalised,
        understood=understood(u), constraints=constraints(u), retrieval=result.retrieval, ranker=result.ranker,
        bundle_version=index.version,
        linked=[LinkedMention(text=m.text, type=m.node_type, id=m.node_id, name=m.name)  # type: ignore[arg-type]
                for m in result.mentions],
        items=items, suggestions=result.suggestions, no_match=result.no_match, degraded=result.degraded,
    ))


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0
