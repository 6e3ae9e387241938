"""The graph schema: the allow-list of labels, relationship types and their properties.

This module is the single source of truth that every store uses to build queries. Labels, relationship
types and property names are identifiers that cannot be passed as Cypher parameters, so they are only ever
taken from here; values always travel as parameters. The DDL files in ``cypher/schema/`` must agree with this
module (``tests/test_schema.py`` checks both directions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from kg.errors import SchemaError


class PropType(StrEnum):
    """Property value types, named as the embedded engine's DDL names them."""

    STRING = "STRING"
    INT64 = "INT64"
    DOUBLE = "DOUBLE"
    BOOLEAN = "BOOLEAN"


class NodeLabel(StrEnum):
    PRODUCT = "Product"
    USER = "User"
    BRAND = "Brand"
    CATEGORY = "Category"
    ENTITY = "Entity"


class RelType(StrEnum):
    PURCHASED = "PURCHASED"
    VIEWED = "VIEWED"
    RATED = "RATED"
    MADE_BY = "MADE_BY"
    IN_CATEGORY = "IN_CATEGORY"
    SUBCATEGORY_OF = "SUBCATEGORY_OF"
    ALSO_BOUGHT = "ALSO_BOUGHT"
    ALSO_VIEWED = "ALSO_VIEWED"
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    MENTIONS = "MENTIONS"
    RECOMMENDED = "RECOMMENDED"
    SIMILAR_TO = "SIMILAR_TO"


@dataclass(frozen=True)
class NodeSpec:
    """A node label: its key property (always ``id``, a string) and its other properties."""

    label: NodeLabel
    properties: Mapping[str, PropType]
    key: str = "id"


@dataclass(frozen=True)
class RelSpec:
    """A relationship type between two labels; at most one edge of a type per (source, target) pair."""

    type: RelType
    source: NodeLabel
    target: NodeLabel
    properties: Mapping[str, PropType] = field(default_factory=dict)


S, I, D, B = PropType.STRING, PropType.INT64, PropType.DOUBLE, PropType.BOOLEAN  # noqa: E741  (short names keep the table readable)

NODES: Final[Mapping[NodeLabel, NodeSpec]] = {
    spec.label: spec
    for spec in (
        NodeSpec(
            NodeLabel.PRODUCT,
            {
                "id": S,
                "title": S,
                "description": S,
                # The raw marketplace text is kept beside the cleaned one so cleaning can be redone.
                "title_raw": S,
                "description_raw": S,
                "price": D,
                "text_hash": S,
                "active": B,
                "source": S,
                "updated_at": S,
                # Entity extraction's incremental state: the text_hash it last ran on, and which extractor.
                "extracted_hash": S,
                "extracted_by": S,
            },
        ),
        NodeSpec(NodeLabel.USER, {"id": S, "name": S, "source": S}),
        NodeSpec(NodeLabel.BRAND, {"id": S, "name": S}),
        NodeSpec(NodeLabel.CATEGORY, {"id": S, "name": S}),
        NodeSpec(NodeLabel.ENTITY, {"id": S, "name": S, "type": S}),
    )
}

# Interactions: ``ts`` is epoch seconds when the source has timestamps, ``seq`` the position in the user's
# ordered history when it has only an order (amazon-beauty), ``count`` how often the pair occurred.
_INTERACTION = {"ts": I, "seq": I, "rating": D, "count": I}
_MODEL_OUTPUT = {"score": D, "model": S, "rank": I}
_P, _U, _B, _C, _E = (NodeLabel.PRODUCT, NodeLabel.USER, NodeLabel.BRAND, NodeLabel.CATEGORY, NodeLabel.ENTITY)

RELATIONSHIPS: Final[Mapping[RelType, RelSpec]] = {
    spec.type: spec
    for spec in (
        RelSpec(RelType.PURCHASED, _U, _P, _INTERACTION),
        RelSpec(RelType.VIEWED, _U, _P, _INTERACTION),
        RelSpec(RelType.RATED, _U, _P, _INTERACTION),
        RelSpec(RelType.MADE_BY, _P, _B),
        RelSpec(RelType.IN_CATEGORY, _P, _C),
        RelSpec(RelType.SUBCATEGORY_OF, _C, _C),
        RelSpec(RelType.ALSO_BOUGHT, _P, _P),
        RelSpec(RelType.ALSO_VIEWED, _P, _P),
        RelSpec(RelType.BOUGHT_TOGETHER, _P, _P),
        RelSpec(RelType.MENTIONS, _P, _E, {"source": S, "extractor": S, "confidence": D, "surface": S}),
        RelSpec(RelType.RECOMMENDED, _U, _P, _MODEL_OUTPUT),
        RelSpec(RelType.SIMILAR_TO, _P, _P, _MODEL_OUTPUT),
    )
}


def node_spec(label: str | NodeLabel) -> NodeSpec:
    """Return the spec of an allowed label, or raise :class:`SchemaError`."""
    try:
        return NODES[NodeLabel(label)]
    except ValueError as e:
        allowed = ", ".join(n.value for n in NodeLabel)
        raise SchemaError(f"unknown node label {label!r}; allowed: {allowed}") from e


def rel_spec(rel_type: str | RelType) -> RelSpec:
    """Return the spec of an allowed relationship type, or raise :class:`SchemaError`."""
    try:
        return RELATIONSHIPS[RelType(rel_type)]
    except ValueError as e:
        allowed = ", ".join(r.value for r in RelType)
        raise SchemaError(f"unknown relationship type {rel_type!r}; allowed: {allowed}") from e


def check_properties(owner: str, allowed: Mapping[str, PropType], names: set[str] | frozenset[str]) -> None:
    """Raise :class:`SchemaError` naming every property of ``names`` that ``owner`` does not declare."""
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise SchemaError(
            f"{owner} has no propert{'y' if len(unknown) == 1 else 'ies'} {unknown}; declared: {sorted(allowed)}"
        )
