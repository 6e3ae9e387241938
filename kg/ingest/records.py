"""The typed record model every reader produces and the ingest pipeline validates and loads.

Readers do not validate: they yield :class:`RawRecord` (the record as found, with where it was found), and
:func:`kg.ingest.pipeline` turns each into one of the typed records below or a quarantine entry with the
reason. Keeping validation in one place means every source gets the same rules.

Ids are strings. Brand and category ids are derived from their names by :func:`slug` when a source has no
ids of its own, so the same brand from two sources is one node.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmptyId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]


class RecordKind(StrEnum):
    PRODUCT = "product"
    BRAND = "brand"
    CATEGORY = "category"
    USER = "user"
    INTERACTION = "interaction"
    LINK = "link"  # product -> product co-purchase / co-view


class InteractionKind(StrEnum):
    PURCHASE = "purchase"
    VIEW = "view"
    RATING = "rating"


class LinkKind(StrEnum):
    ALSO_BOUGHT = "also_bought"
    ALSO_VIEWED = "also_viewed"
    BOUGHT_TOGETHER = "bought_together"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ProductRecord(_Record):
    id: NonEmptyId
    title: str | None = None
    description: str | None = None
    title_raw: str | None = None
    description_raw: str | None = None
    price: float | None = Field(None, ge=0, allow_inf_nan=False)
    brand_id: str | None = None
    category_ids: tuple[str, ...] = ()
    active: bool = True
    source: str | None = None


class BrandRecord(_Record):
    id: NonEmptyId
    name: str = Field(min_length=1)


class CategoryRecord(_Record):
    id: NonEmptyId
    name: str = Field(min_length=1)
    parent_id: str | None = None


class UserRecord(_Record):
    id: NonEmptyId
    name: str | None = None
    source: str | None = None


class InteractionRecord(_Record):
    user_id: NonEmptyId
    product_id: NonEmptyId
    kind: InteractionKind = InteractionKind.PURCHASE
    ts: int | None = Field(None, ge=0, description="epoch seconds")
    seq: int | None = Field(None, ge=0, description="position in the user's ordered history")
    rating: float | None = Field(None, ge=0, le=5, allow_inf_nan=False)
    count: int = Field(1, ge=1)


class LinkRecord(_Record):
    src: NonEmptyId
    dst: NonEmptyId
    kind: LinkKind


TypedRecord = ProductRecord | BrandRecord | CategoryRecord | UserRecord | InteractionRecord | LinkRecord

MODEL_BY_KIND: dict[RecordKind, type[_Record]] = {
    RecordKind.PRODUCT: ProductRecord,
    RecordKind.BRAND: BrandRecord,
    RecordKind.CATEGORY: CategoryRecord,
    RecordKind.USER: UserRecord,
    RecordKind.INTERACTION: InteractionRecord,
    RecordKind.LINK: LinkRecord,
}


class RawRecord(BaseModel):
    """A record as a reader found it: not yet validated.

    ``location`` says where (``file:line`` or ``file#key``) so a quarantined record can be found again.
    ``error`` is set by a reader that could not even parse the record (truncated JSON, bad bytes); the
    pipeline quarantines such records with that reason.
    """

    model_config = ConfigDict(frozen=True)

    kind: RecordKind
    data: dict[str, Any]
    location: str
    error: str | None = None


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """Stable id from a display name: accents folded, lower case, non-alphanumerics to '-'.

    >>> slug("L'Oréal Paris")
    'l-oreal-paris'
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _SLUG_STRIP.sub("-", folded.lower()).strip("-") or name.strip().lower()

