"""Request and response models of the HTTP API (they are also the OpenAPI schema at ``/docs``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

#: Ids the API accepts in paths and bodies: what the catalog readers produce (ASINs, ``office:123``, slugs), in
#: ASCII. Anything else (quotes, spaces, Cypher fragments) is refused with 422 before it reaches any code, and so
#: is every non-ASCII character: ``\u0410dmin`` (a Cyrillic A) or a full-width A, can never be a second
#: user beside ``Admin`` (an accepted id is its own NFKC form, so there is nothing left to normalise).
ID_PATTERN = r"^[A-Za-z0-9_.:@+\-]{1,128}$"
MAX_K = 100


def _integral_float_to_int(value: Any) -> Any:
    # JSON Schema's "integer" includes 56.0; strict pydantic alone would refuse it (and must still refuse
    # false, "5" and 5.5).
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: An integer as JSON Schema means it: 56 and 56.0, never a boolean or a string (bounds go before the
#: validator, so that the schema shows them as minimum / maximum).
_INTEGRAL = BeforeValidator(_integral_float_to_int)
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
    strategy: Literal["sequence", "sequence+recent", "item_regression", "personalised", "personalised+recent",
                      "pooled_items", "popular"] = Field(
        description="sequence: a sequence model's user encoder over the ordered history (+recent: events since "
        "training or items in the request included, blended with the history alone by the bundle's recent weight); "
        "item_regression: an EASE bundle's scores from every product the user has, events and request items included; "
        "personalised: trained user embedding; +recent: blended with events since training by the bundle's recent "
        "weight (chosen on validation); pooled_items: a user unknown to the model, from given/recent/graph items; "
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


class SpellingCorrection(BaseModel):
    original: str
    corrected: str


class QueryTranslation(BaseModel):
    original: str = Field(description="the query's words as typed")
    english: str = Field(description="what search read them as")
    dictionary: str = Field(description="the bilingual dictionary that gave it (docs/search.md)")


class PriceUnderstood(BaseModel):
    min: float | None = None
    max: float | None = None
    phrase: str = Field(description="the query's words that asked for it")


class QueryUnderstood(BaseModel):
    """How the query was read (see docs/search.md)."""

    corrected: str = Field(description="the query after translation and spelling correction (equal to the query "
                           "when neither applied)")
    translations: list[QueryTranslation] = Field(default_factory=list, description="words read through a "
                                                 "bilingual dictionary (a query in another language)")
    corrections: list[SpellingCorrection]
    search_text: str = Field(description="what retrieval matched: corrected, without price and negation phrases")
    brand: list[str] = Field(default_factory=list)
    product_type: list[str] = Field(default_factory=list)
    color: list[str] = Field(default_factory=list)
    size: list[str] = Field(default_factory=list)
    quantity: list[str] = Field(default_factory=list)
    audience: list[str] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list, description="other typed words: material, feature, "
                                  "ingredient, model number, compatible device, as kind=value")
    price: PriceUnderstood | None = None
    negated: list[str] = Field(default_factory=list, description="words the products must not mention")
    unknown_words: list[str] = Field(default_factory=list, description="words the catalog never uses")


class AppliedConstraint(BaseModel):
    kind: str = Field(description="brand, product_type, color, size, quantity, audience, material, feature, "
                      "ingredient, model_number, compatible_with, price or negation")
    value: str
    text: str = Field(description="the query's words")
    how: Literal["rank", "filter", "not_applied"] = Field(
        description="rank: products keeping it always rank above products breaking it; filter: products breaking "
        "it are left out; not_applied: recognised but unusable here (note says why)")
    products: int | None = Field(None, description="catalog products keeping it")
    note: str = ""


class SearchResults(BaseModel):
    query: str
    query_id: str = Field(description="send it back with POST /events (query_id, position) to report a click, "
                          "cart or purchase from this result list")
    user_id: str | None = None
    personalised: bool
    understood: QueryUnderstood
    constraints: list[AppliedConstraint]
    linked: list[LinkedMention]
    retrieval: dict[str, int] = Field(description="candidates per retrieval list (bm25, dense, graph)")
    ranker: str = Field(description="lambdarank@<trained> (learned) or weights (hand-set fallback)")
    bundle_version: str
    items: list[SearchHit]
    suggestions: list[str] = Field(default_factory=list,
                                   description="queries to try instead, when nothing matched (items empty)")
    no_match: str = Field("", description="when items is empty: why nothing matched (no product of the type "
                          "asked for; no product with the query's words, constraints or meaning; the filters)")
    degraded: list[str] = Field(default_factory=list, description="retrieval steps skipped under load, with why "
                                "(the dense list when the text model was busy: CARTOGRAPH_SEARCH_DENSE_WAIT_MS)")


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
    key: str = Field(description="Label:id, unique in the path (\"Shoppers\" for the group of other shoppers)")
    label: str
    id: str | None = Field(description="the node's id; null for the group of other shoppers, who are never named")
    name: str
    count: int | None = Field(default=None, description="how many shoppers a group node stands for")


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
    # strict: JSON types as declared (``"ts": false`` or ``"ts": "5"`` is refused, not read as 0 or 5).
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: str = Field(pattern=ID_PATTERN)
    product_id: str = Field(pattern=ID_PATTERN)
    type: Literal["view", "cart", "purchase"]
    ts: Annotated[int, Field(ge=0, le=4_102_444_800), _INTEGRAL] | None = Field(
        default=None, description="epoch seconds (default: now)")
    query_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$",
                                 description="the search's query_id, when the product was found by a search")
    position: Annotated[int, Field(ge=1, le=MAX_K), _INTEGRAL] | None = Field(
        default=None, description="the hit's rank in that search")
    action: Literal["click", "cart", "purchase"] | None = Field(
        default=None, description="what the user did with the hit (default: from type; view is a click)")


class EventAccepted(BaseModel):
    user_id: str
    product_id: str
    type: str
    stored_as: str = Field(description="relationship written to the graph (cart is stored as VIEWED)")
    recent_items: int = Field(description="events of this user now pooled into their recommendations")
    queued: bool = Field(True, description="always true: the event is in the event log on disk and is "
                         "written to the graph, in order, by a background writer (later while a job holds it)")


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[Any] = Field(min_length=1, description="the events, each an object as POST /events takes "
                              "(user_id, product_id, type, and optionally ts, query_id, position, action). Each "
                              "is validated on its own: an invalid one is answered in its result and the valid "
                              "ones are recorded all the same. At most CARTOGRAPH_EVENT_BATCH_MAX (1000) "
                              "events; more: 413")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: body, events, the event's index, then the field")
    msg: str
    type: str
    input: Any = Field(default=None, description="the refused value, when it is short")


class EventResult(BaseModel):
    index: int = Field(description="the event's position in the request's events, from 0")
    status: Literal[202, 404, 422] = Field(description="202: recorded (on disk, pooled into the user's "
                                           "recommendations); 422: invalid (detail says why); 404: unknown "
                                           "product. Only 202 events are recorded")
    stored_as: str | None = Field(default=None, description="202: the relationship written to the graph")
    detail: list[ValidationIssue] | str | None = Field(default=None, description="422: what is wrong, as a 422 body "
                                                       "says it; 404: which product is unknown")


class EventBatchAccepted(BaseModel):
    accepted: int = Field(description="events recorded: in the event log on disk (one fsync for the batch) "
                          "and in their users' recommendations")
    rejected: int = Field(description="events refused (not recorded): fix them and send them again")
    results: list[EventResult] = Field(description="one per event, in the request's order")


class Forgotten(BaseModel):
    user_id: str
    newly_forgotten: bool = Field(description="false when the user had been forgotten before")
    graph_users: int = Field(description="user nodes deleted (0 or 1)")
    graph_edges: int = Field(description="their relationships deleted: interactions and recommendations")
    event_lines: int = Field(description="their events dropped from the event files (spool)")
    quarantine_lines: int = Field(description="lines naming them dropped from ingest / rebuild quarantine files")


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
