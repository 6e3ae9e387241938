"""GET /search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.contract import error_responses
from api.deps import IndexDep, SettingsDep, StateDep, check_key
from api.models import ID_PATTERN, MAX_QUERY_CHARS, LinkedMention, SearchHit, SearchResults
from api.routes.params import FiltersDep, KQuery
from api.routes.present import json_response, product
from api.routes.validation import check_query_text
from api.serving.recommend import user_context
from api.serving.search import search

router = APIRouter(tags=["search"])
#: What the schema says of ``q`` (check_query_text refuses the same, and statement-like text besides).
_TEXT = r"[^\x00-\x08\x0b-\x1f\x7f]*"
QUERY_PATTERN = rf"^{_TEXT}[0-9A-Za-z]{_TEXT}$"


@router.get("/search", response_model=SearchResults, responses=error_responses(401, 404, 503))
def get_search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, pattern=QUERY_PATTERN,
                            description="plain words: at least one ASCII letter or digit, no control characters")],
    index: IndexDep, state: StateDep, settings: SettingsDep, filters: FiltersDep, k: KQuery = 10,
    user_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="personalise for this user")] = None,
    x_api_key: Annotated[str | None, Header(max_length=256, description="the client key, needed with user_id "
                                            "when CARTOGRAPH_API_KEY is set")] = None,
) -> Response:
    """Graph-aware hybrid search: entity linking, BM25 + dense MiniLM retrieval + graph expansion, fused and,
    with a ``user_id``, reranked by the user's GNN embedding. Each hit lists what matched."""
    if user_id is not None and settings.api_key is not None and settings.api_key.get_secret_value():
        check_key(settings.api_key.get_secret_value(), x_api_key)  # a personalised search reads the user's data
    text = check_query_text(q)
    vector = None
    if user_id is not None:
        vector = user_context(index, user_id, state.recent.get(user_id)).vector
    result = search(index, text, k, encoder=state.encoder, filter_mask=index.filters.mask(filters),
                    user_vector=vector)
    return json_response(SearchResults(
        query=text, user_id=user_id, personalised=result.personalised, retrieval=result.retrieval,
        bundle_version=index.version,
        linked=[LinkedMention(text=m.text, type=m.node_type, id=m.node_id, name=m.name)  # type: ignore[arg-type]
                for m in result.mentions],
        items=[SearchHit(rank=r + 1, score=h.score, matched=h.matched, product=product(index, h.index))
               for r, h in enumerate(result.hits)],
    ))
