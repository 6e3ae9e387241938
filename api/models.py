"""Request and response models of the HTTP API (they are also the OpenAPI schema at ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Ids the API accepts in paths and bodies: what the catalog readers produce (ASINs, ``office:123``, slugs).
#: Anything else (quotes, spaces, Cypher fragments) is refused with 422 before it reaches any code.
ID_PATTERN = r"^[\w.:@+\-]{1,128}$"
MAX_K = 100
MAX_QUERY_CHARS = 200


class Product(BaseModel):
    id: str
    title: str
    brand: str | None = None
    categories: list[str] = Field(default_factory=list)
    price: float | None = None
    active: bool = True


class RecommendedItem(BaseModel):
    rank: int
    score: float
    reason: str = Field(description="one line: why this product")
    product: Product


class Recommendations(BaseModel):
    user_id: str
    strategy: Literal["sequence", "sequence+recent", "personalised", "personalised+recent", "pooled_items",
                      "popular"] = Field(
        description="sequence: a sequence model's user encoder over the ordered history (+recent: events since "
        "training or items in the request included); personalised: trained user embedding; +recent: blended with "
        "events since training; pooled_items: a user unknown to the model, from given/recent/graph items; "
        "popular: cold start")
    bundle_version: str
    filters: str = ""
    items: list[RecommendedItem]
    notes: list[str] = Field(default_factory=list)


class LinkedMention(BaseModel):
    text: str = Field(description="the words of the query")
    type: Literal["brand", "category", "entity"]
    id: str
    name: str


class SearchHit(BaseModel):
    rank: int
    score: float
    matched: list[str] = Field(description="what matched, e.g. brand=HP, text: ink, semantic similarity 0.61")
    product: Product


class SearchResults(BaseModel):
    query: str
    user_id: str | None = None
    personalised: bool
    linked: list[LinkedMention]
    retrieval: dict[str, int] = Field(description="candidates per retrieval list (bm25, dense, graph)")
    bundle_version: str
    items: list[SearchHit]


class SimilarItem(BaseModel):
    rank: int
    score: float = Field(description="cosine similarity of GNN embeddings (0 when only linked)")
    links: list[str] = Field(description="co-purchase / co-view relationships joining the two products")
    reason: str
    product: Product


class LinkedProduct(BaseModel):
    links: list[str]
    product: Product


class SimilarProducts(BaseModel):
    product: Product
    bundle_version: str
    items: list[SimilarItem]
    co_purchase: list[LinkedProduct] = Field(description="the product's co-purchase / co-view neighbours")


class PathNode(BaseModel):
    key: str = Field(description="Label:id, unique in the path")
    label: str
    id: str
    name: str


class PathRelationship(BaseModel):
    type: str
    source: str = Field(description="key of the start node")
    target: str = Field(description="key of the end node")


class CypherQuery(BaseModel):
    text: str = Field(description="parameterised Cypher; paste into Neo4j Browser with :params")
    params: dict[str, Any]
    name: str | None = Field(default=None, description="named query file under cypher/queries/, when one")


class ExplanationPath(BaseModel):
    kind: Literal["direct", "link", "attribute", "collaborative"]
    hops: int
    score: float
    summary: str
    nodes: list[PathNode]
    relationships: list[PathRelationship]
    cypher: CypherQuery


class Explanation(BaseModel):
    user_id: str
    product_id: str
    paths: list[ExplanationPath]
    queries: list[CypherQuery] = Field(description="the named queries that found the paths")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(pattern=ID_PATTERN)
    product_id: str = Field(pattern=ID_PATTERN)
    type: Literal["view", "cart", "purchase"]
    ts: int | None = Field(default=None, ge=0, le=4_102_444_800, description="epoch seconds (default: now)")


class EventAccepted(BaseModel):
    user_id: str
    product_id: str
    type: str
    stored_as: str = Field(description="relationship written to the graph (cart is stored as VIEWED)")
    recent_items: int = Field(description="events of this user now pooled into their recommendations")
    queued: bool = Field(True, description="always true: the event is in the event log on disk and is "
                         "written to the graph, in order, by a background writer (later while a job holds it)")


class Health(BaseModel):
    status: Literal["ok"]


class StoreHealth(BaseModel):
    reachable: bool
    message: str


class Ready(BaseModel):
    ready: bool
    degraded: bool = Field(description="serving, but the graph store is unreachable or the catalog is partial")
    bundle: dict[str, Any] | None
    store: StoreHealth
    detail: str = ""


class ReloadStatus(BaseModel):
    state: Literal["idle", "running", "succeeded", "failed"]
    target: str | None = None
    previous: str | None = None
    version: str | None = None
    error: str | None = None
    seconds: float | None = None
    serving: str | None = Field(default=None, description="the bundle version serving now")
