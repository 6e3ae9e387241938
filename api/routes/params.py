"""Query and path parameters shared by several routes (validation lives here, once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from api.errors import InvalidRequestError
from api.models import ID_PATTERN, MAX_K
from api.serving.filters import Filters, make_filters

MAX_FILTER_VALUE_CHARS = 100

UserIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="user id")]
ProductIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="product id")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description=f"number of results, 1..{MAX_K}")]


async def filter_params(
    brand: Annotated[list[str] | None, Query(description="brand id or name; repeat or comma-separate for OR")]
    = None,
    category: Annotated[list[str] | None, Query(description="category id or name; repeat for OR")] = None,
    min_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    max_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
) -> Filters:
    for values in (brand or [], category or []):
        for value in values:
            if len(value) > MAX_FILTER_VALUE_CHARS:
                raise InvalidRequestError(f"filter values are at most {MAX_FILTER_VALUE_CHARS} characters",
                                          location=("query", "brand" if values is brand else "category"))
    return make_filters(brand, category, min_price, max_price)


FiltersDep = Annotated[Filters, Depends(filter_params)]
