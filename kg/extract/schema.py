"""The fixed entity-type schema of extraction: what kinds of things the graph learns from product text.

Every extractor (patterns and lexicons, a token classifier, an LLM) reports mentions typed with exactly these
types; an extractor that produces anything else (an LLM inventing a type, a generic NER model's ``PER``) has
that mention dropped and counted, never stored. The descriptions below are the labelling guide in short (the
full guide, with edge cases, is ``bench/gold/GUIDE.md``) and they are what the LLM prompt shows the model.

Changing the set of types, or what a type means, changes :data:`SCHEMA_VERSION`; the LLM prompt version
and the trained token classifier both depend on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

SCHEMA_VERSION: Final = "1"


class EntityType(StrEnum):
    """Entity types, stored as ``Entity.type``."""

    BRAND = "brand"
    PRODUCT_TYPE = "product_type"
    MATERIAL = "material"
    COLOR = "color"
    SIZE = "size"
    QUANTITY = "quantity"
    MODEL_NUMBER = "model_number"
    COMPATIBLE_WITH = "compatible_with"
    FEATURE = "feature"
    AUDIENCE = "audience"
    INGREDIENT = "ingredient"


DESCRIPTIONS: Final[dict[EntityType, str]] = {
    EntityType.BRAND: "the maker or product line owner named in the text (HP, Avery, Paper Mate, L'Oreal Paris)",
    EntityType.PRODUCT_TYPE: "what the product is, as a noun phrase without adjectives of colour or size "
    "(gel pen, toner cartridge, binder, shampoo, nail polish, eyeliner)",
    EntityType.MATERIAL: "what the product is made of (aluminum, cork, plastic, leather, stainless steel, bamboo)",
    EntityType.COLOR: "a colour or colour name (black, dark blue, rose gold, assorted colors)",
    EntityType.SIZE: "a dimension, volume, weight, tip or line width, or a named size (8.5 x 11 inch, 3.4 oz, "
    "0.5 mm, letter size, mini)",
    EntityType.QUANTITY: "how many units or sheets come in the package (12 count, pack of 3, 500 sheets, 2-pack)",
    EntityType.MODEL_NUMBER: "a manufacturer model or part number (TN330, CE285A, 17031, LJU-120EF-12C)",
    EntityType.COMPATIBLE_WITH: "a device, machine or model the product is made for (LaserJet P1102, iPhone 6, "
    "MFC-7340, Cricut)",
    EntityType.FEATURE: "a functional property or finish (waterproof, refillable, acid-free, retractable, matte, "
    "long lasting, fine point)",
    EntityType.AUDIENCE: "who the product is for (men, women, kids, teachers, professional, sensitive skin)",
    EntityType.INGREDIENT: "a substance the product contains, beauty and care mainly (argan oil, shea butter, "
    "vitamin C, hyaluronic acid, tea tree)",
}


def parse_type(name: str) -> EntityType | None:
    """The type called ``name`` (case, spaces and hyphens ignored; ``B-``/``I-`` tag prefixes allowed), or
    None when the schema has no such type."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key[:2] in ("b_", "i_", "e_", "s_") and key[2:] in _BY_VALUE:
        key = key[2:]
    return _BY_VALUE.get(key)


_BY_VALUE: Final[dict[str, EntityType]] = {t.value: t for t in EntityType}


def schema_text() -> str:
    """The schema as a list, one ``type: description`` per line (used in the LLM prompt and the docs)."""
    return "\n".join(f"- {t.value}: {DESCRIPTIONS[t]}" for t in EntityType)
