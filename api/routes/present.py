"""Index rows -> response models (shared by the route modules)."""

from __future__ import annotations

import math

from fastapi import Response
from pydantic import BaseModel

from api.models import Product
from api.serving.index import ServingIndex


def product(index: ServingIndex, i: int) -> Product:
    c = index.catalog
    brands = c.attributes["brand"].row(i)
    price = float(c.price[i])
    return Product(
        id=c.product_ids[i], title=c.titles[i],
        brand=c.display_name("brand", int(brands[0])) if len(brands) else None,
        categories=[c.display_name("category", int(j)) for j in c.attributes["category"].row(i)],
        price=None if math.isnan(price) else price, active=bool(c.active[i]),
    )


def finite(x: float) -> float:
    """JSON has no infinity: clamp scores that could be infinite."""
    return x if math.isfinite(x) else 0.0


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise ``model`` with pydantic-core directly: FastAPI would validate the returned model against the
    declared response model again and encode it through ``jsonable_encoder``, several times slower on the hot
    path. The route still declares ``response_model`` for the OpenAPI schema."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
