"""GET /users/{user_id}/recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints

from api.contract import error_responses
from api.deps import ClientKey, IndexDep, StateDep
from api.errors import InvalidRequestError, NotFoundError
from api.models import ID_PATTERN, Recommendations, RecommendedItem
from api.routes.params import FiltersDep, KQuery, UserIdPath
from api.routes.present import finite, json_response, product
from api.serving.recommend import recommend

router = APIRouter(tags=["recommendations"])
MAX_ITEMS = 50
#: One ``items`` value: ids (see ID_PATTERN) separated by commas.
ITEMS_PATTERN = r"^[A-Za-z0-9_.:@+\-, ]*$"
ItemsValue = Annotated[str, StringConstraints(pattern=ITEMS_PATTERN)]


@router.get("/users/{user_id}/recommendations", response_model=Recommendations, dependencies=[ClientKey],
            responses=error_responses(401, 404, 503))
async def get_recommendations(
    user_id: UserIdPath, index: IndexDep, state: StateDep, filters: FiltersDep, k: KQuery = 10,
    exclude_seen: Annotated[bool, Query(description="leave out products the user already interacted with")] = True,
    items: Annotated[list[ItemsValue] | None, Query(description="product ids to recommend from (cold start), "
                                                    f"repeated or comma-separated; at most {MAX_ITEMS}")] = None,
) -> Response:
    """Ranked products for a user, each with a one-line reason. Unknown users get a cold-start answer: pooled
    from ``items`` or their recent events when there are any, else the most popular products within the
    filters. Never an error for an unknown user."""
    item_idx = _items(index.catalog.product_index, items or [])
    rec = recommend(index, user_id, k, filter_mask=index.filters.mask(filters), exclude_seen=exclude_seen,
                    recent=state.recent.get(user_id), items=item_idx, filter_label=filters.describe())
    return json_response(Recommendations(
        user_id=user_id, strategy=rec.strategy, bundle_version=index.version,  # type: ignore[arg-type]
        filters=filters.describe(), notes=rec.notes,
        items=[RecommendedItem(rank=r + 1, score=finite(h.score), reason=h.reason, product=product(index, h.index))
               for r, h in enumerate(rec.hits)],
    ))


def _items(product_index: dict[str, int], raw: list[str]) -> list[int]:
    import re

    ids = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    if len(ids) > MAX_ITEMS:
        raise InvalidRequestError(f"at most {MAX_ITEMS} items, got {len(ids)}", location=("query", "items"))
    out = []
    for pid in dict.fromkeys(ids):
        if not re.match(ID_PATTERN, pid):
            raise InvalidRequestError(f"invalid product id {pid[:40]!r} in items", location=("query", "items"))
        if pid not in product_index:
            raise NotFoundError(f"unknown product {pid!r} in items")
        out.append(product_index[pid])
    return out
