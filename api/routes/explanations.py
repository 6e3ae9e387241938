"""GET /users/{user_id}/explanations/{product_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.contract import error_responses
from api.deps import ClientKey, IndexDep, StateDep, StoreDep
from api.errors import NotFoundError
from api.explain import QUERIES, explain
from api.limits import GraphSlotDep
from api.models import CypherQuery, Explanation, ExplanationPath, PathNode, PathRelationship
from api.routes.params import ProductIdPath, UserIdPath
from api.routes.products import product_index

router = APIRouter(tags=["explanations"])


@router.get("/users/{user_id}/explanations/{product_id}", response_model=Explanation, dependencies=[ClientKey],
            responses=error_responses(401, 404, 503))
def get_explanation(
    user_id: UserIdPath, product_id: ProductIdPath, index: IndexDep, state: StateDep, store: StoreDep,
    _slot: GraphSlotDep,
    limit: Annotated[int, Query(ge=1, le=20, description="paths to return")] = 5,
) -> Explanation:
    """The best graph paths (at most 3 hops) between the user and the product, as nodes and relationships,
    each with the parameterised Cypher that shows it in Neo4j Browser. Reads the graph store: at most
    ``graph_concurrency`` at once, more are answered 503 with Retry-After."""
    product_index(index, product_id)
    if user_id not in index.catalog.user_index and user_id not in state.recent:
        raise NotFoundError(f"unknown user {user_id!r}")
    paths = explain(index, store, user_id, product_id, limit)
    params = {"user_id": user_id, "product_id": product_id}
    queries = []
    for name in QUERIES:
        q = store.named_query(f"explain/{name}")
        queries.append(CypherQuery(name=q.name, text=q.text,
                                   params={**params, "limit": limit} if "limit" in q.parameters else params))
    return Explanation(
        user_id=user_id, product_id=product_id, queries=queries,
        paths=[ExplanationPath(
            kind=p.kind, hops=len(p.relationships), score=p.score,  # type: ignore[arg-type]
            summary=p.summary, nodes=[PathNode(**n) for n in p.nodes],
            relationships=[PathRelationship(**r) for r in p.relationships],
            cypher=CypherQuery(text=p.cypher, params=p.params)) for p in paths],
    )
