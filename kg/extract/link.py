"""Linking extracted mentions into the graph: Entity nodes and MENTIONS edges through GraphStore upserts.

Everything goes through named queries (``cypher/queries/extract/``) and the store's upserts, so it runs the
same on the embedded engine and on Neo4j. Per product, one MENTIONS edge per entity (the schema allows one
edge of a type per pair): the most confident mention wins, and its field (``source``), extractor, confidence
and surface form go on the edge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kg.extract.base import FIELDS, Mention
from kg.extract.normalise import (
    EntityResolver,
    KnownEntity,
    Similarity,
    canonical_key,
    display_name,
)
from kg.extract.schema import EntityType, parse_type
from kg.extract.wordlists import TYPE_PRIORITY
from kg.queries import split_statements
from kg.schema import NodeLabel, RelType
from kg.store.base import GraphStore

_TYPE_ORDER = {t: i for i, t in enumerate([*TYPE_PRIORITY, *(t for t in EntityType if t not in TYPE_PRIORITY)])}


def prepare_store(store: GraphStore) -> None:
    """Create the schema if needed and add the extraction properties to graphs that predate them."""
    store.init_schema()
    # One statement at a time: kuzu 0.11.3 crashes (SIGSEGV) reading the result of several ALTERs sent at once.
    for statement in split_statements(store.named_query("extract/migrate").text):
        store.query(statement)


def known_entities(store: GraphStore) -> list[KnownEntity]:
    """Entity nodes already in the graph, as the resolver sees them (key = id with spaces)."""
    out = []
    for row in store.run_named("extract/entities"):
        entity_type = parse_type(row["type"] or "")
        if entity_type is not None and row["id"]:
            out.append(KnownEntity(row["id"], row["id"].replace("-", " "), row["name"] or row["id"], entity_type))
    return out


def lexicon_names(store: GraphStore) -> tuple[list[str], list[str]]:
    """(brand names, category names) of the graph."""
    brands: list[str] = []
    categories: list[str] = []
    for row in store.run_named("extract/lexicon_names"):
        if row["name"]:
            (brands if row["kind"] == "brand" else categories).append(row["name"])
    return brands, categories


@dataclass(frozen=True)
class Link:
    """A mention resolved to an entity: what one MENTIONS edge will say."""

    product_id: str
    entity: KnownEntity
    mention: Mention
    new_entity: bool


@dataclass
class LinkStats:
    new_entities: Counter[str]
    mentions_by_type: Counter[str]
    linked_existing: int = 0
    to_new: int = 0
    type_conflicts: int = 0
    merged: int = 0
    dropped_empty_key: int = 0


def resolve_mentions(
    resolver: EntityResolver, by_product: dict[str, list[Mention]], stats: LinkStats, preexisting: set[str]
) -> list[Link]:
    """Canonicalise every mention, resolve it to an entity (creating new ones, type by majority vote over
    this batch), and keep the best mention per (product, entity)."""
    keyed: list[tuple[str, Mention, str]] = []
    votes: dict[str, Counter[EntityType]] = {}
    names: dict[str, Counter[str]] = {}
    for product_id, mentions in by_product.items():
        for m in mentions:
            key = canonical_key(m.type, m.text)
            if not key:
                stats.dropped_empty_key += 1
                continue
            keyed.append((product_id, m, key))
            votes.setdefault(key, Counter())[m.type] += 1
            names.setdefault(key, Counter())[display_name(m.text)] += 1
    best: dict[tuple[str, str], Link] = {}
    for product_id, m, key in keyed:
        entity = resolver.find(m.type, key)
        created = False
        if entity is None:
            vote = votes[key].most_common()
            top = max(n for _, n in vote)
            entity_type = min((t for t, n in vote if n == top), key=_TYPE_ORDER.__getitem__)
            entity = resolver.add(entity_type, key, names[key].most_common(1)[0][0])
            created = True
            stats.new_entities[entity.type.value] += 1
        elif entity.key != key and entity.key.replace(" ", "") != key.replace(" ", ""):
            stats.merged += 1
        if entity.type is not m.type:
            stats.type_conflicts += 1
        link = Link(product_id, entity, m, created or entity.id not in preexisting)
        slot = (product_id, entity.id)
        current = best.get(slot)
        if current is None or _better(m, current.mention):
            best[slot] = link
    for link in best.values():
        stats.mentions_by_type[link.entity.type.value] += 1
        if link.new_entity:
            stats.to_new += 1
        else:
            stats.linked_existing += 1
    return list(best.values())


def _better(a: Mention, b: Mention) -> bool:
    rank = {f: i for i, f in enumerate(FIELDS)}
    return (a.confidence, -rank.get(a.field, 99)) > (b.confidence, -rank.get(b.field, 99))


def write_links(store: GraphStore, links: Sequence[Link], done: Iterable[tuple[str, str, str]],
                in_graph: set[str]) -> None:
    """Replace the MENTIONS of the products in ``done`` (id, text_hash, extractor name) by ``links``, create
    the entities not ``in_graph`` (entity ids; the ones created are added to it), and mark the products as
    extracted at their text hash."""
    done = list(done)
    ids = [product_id for product_id, _, _ in done]
    if ids:
        old = store.run_named("extract/product_mentions", {"ids": ids})
        store.delete_relationships(RelType.MENTIONS, ((row["src"], row["dst"]) for row in old))
    # Only entities the graph does not have yet: existing Entity rows are never updated here (they were first
    # kept untouched for a Kuzu storage bug, scripts/repro_append_after_extract.py; a row's name stays its first).
    entities = {link.entity.id: link.entity for link in links if link.entity.id not in in_graph}
    store.upsert_nodes(NodeLabel.ENTITY, (
        {"id": e.id, "name": e.name, "type": e.type.value} for e in entities.values()
    ))
    in_graph.update(entities)
    rows: list[dict[str, Any]] = [
        {"src": link.product_id, "dst": link.entity.id, "source": link.mention.field,
         "extractor": link.mention.extractor, "confidence": round(float(link.mention.confidence), 4),
         "surface": link.mention.text}
        for link in links
    ]
    store.upsert_relationships(RelType.MENTIONS, rows)
    store.upsert_nodes(NodeLabel.PRODUCT, (
        {"id": product_id, "extracted_hash": text_hash, "extracted_by": name} for product_id, text_hash, name in done
    ))


def delete_orphans(store: GraphStore) -> int:
    """Delete Entity nodes that no product mentions any more; return how many."""
    ids = [row["id"] for row in store.run_named("extract/orphan_entities")]
    return store.delete_nodes(NodeLabel.ENTITY, ids) if ids else 0


def embedding_similarity(encoder: Any) -> Similarity:
    """A :data:`Similarity` from a :class:`kg.text.TextEncoder` (unit vectors: the dot product is the cosine)."""

    def similarity(a: str, b: str) -> float:
        vectors = encoder.encode([a, b])
        return float(vectors[0] @ vectors[1])

    return similarity
