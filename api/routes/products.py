"""GET /products/{product_id} and GET /products/{product_id}/similar."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.contract import error_responses
from api.deps import IndexDep
from api.errors import NotFoundError
from api.models import LinkedProduct, Product, SimilarItem, SimilarProducts
from api.routes.params import FiltersDep, KQuery, ProductIdPath
from api.routes.present import finite, json_response, product
from api.serving.index import ServingIndex
from api.serving.recommend import linked_products, similar

router = APIRouter(tags=["products"])


def product_index(index: ServingIndex, product_id: str) -> int:
    i = index.catalog.product_index.get(product_id)
    if i is None:
        raise NotFoundError(f"unknown product {product_id!r}")
    return i


@router.get("/products/{product_id}", response_model=Product, responses=error_responses(404, 503))
async def get_product(product_id: ProductIdPath, index: IndexDep) -> Product:
    """One product as the serving index knows it."""
    return product(index, product_index(index, product_id))


@router.get("/products/{product_id}/similar", response_model=SimilarProducts, responses=error_responses(404, 503))
async def get_similar(product_id: ProductIdPath, index: IndexDep, filters: FiltersDep, k: KQuery = 10
                      ) -> Response:
    """Products closest by GNN embedding, each with its co-purchase links to this one; plus the product's
    co-purchase / co-view neighbours."""
    i = product_index(index, product_id)
    hits = similar(index, i, k, filter_mask=index.filters.mask(filters))
    linked = sorted(linked_products(index, i).items(), key=lambda kv: (-len(kv[1]), -index.catalog.popularity[kv[0]]))
    return json_response(SimilarProducts(
        product=product(index, i), bundle_version=index.version,
        items=[SimilarItem(rank=r + 1, score=finite(h.score), links=list(h.links), reason=h.reason,
                           product=product(index, h.index)) for r, h in enumerate(hits)],
        co_purchase=[LinkedProduct(links=rels, product=product(index, j)) for j, rels in linked[:k]],
    ))
