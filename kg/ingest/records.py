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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

#: The store's integer type is a signed 64-bit one (Kuzu INT64, Neo4j Long): larger counts and times are
#: refused here, with the field named, instead of overflowing at load time.
INT64_MAX = 2**63 - 1
MAX_NAME_CHARS = 1_000
"""Brand, category and user display names longer than this are refused (a name is not a text field)."""
MAX_TEXT_CHARS = 10_000_000
"""Longest title or description accepted as given (cleaning caps what is stored much lower; the raw copy
kept beside it is capped too: :data:`kg.ingest.cleaning.MAX_RAW_DESCRIPTION_CHARS`)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0/C1 control characters (NUL included) and lone surrogates (which cannot be stored as UTF-8)."""
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""The same, less tab, line feed and carriage return, which text may hold."""


def _printable_id(value: str) -> str:
    """Ids are keys other systems match on: one holding NUL or another control character is refused, not
    silently changed (``a\x00b`` and ``ab`` would become one product)."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"contains control character U+{ord(found.group()):04X} at index {found.start()}; "
                         "ids must be printable")
    return value


def _strip_controls(value: str) -> str:
    """Names: control characters but tab and line breaks removed (a NUL in a brand name is an encoding
    accident, not data)."""
    return _TEXT_CONTROL.sub("", value).strip()


def _strip_text_controls(value: str) -> str:
    return _TEXT_CONTROL.sub("", value)


NonEmptyId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512),
                       AfterValidator(_printable_id)]
RefId = Annotated[str, StringConstraints(max_length=512), AfterValidator(_printable_id)]
"""An id that refers to another record (brand, category, parent)."""
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(_strip_controls)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(_strip_text_controls)]
Int64 = Annotated[int, Field(ge=0, le=INT64_MAX)]


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
    title: Text | None = None
    description: Text | None = None
    title_raw: Text | None = None
    description_raw: Text | None = None
    price: float | None = Field(None, ge=0, allow_inf_nan=False)
    brand_id: RefId | None = None
    category_ids: tuple[RefId, ...] = Field((), max_length=1000)
    active: bool = True
    source: Name | None = None


class BrandRecord(_Record):
    id: NonEmptyId
    name: Name = Field(min_length=1)


class CategoryRecord(_Record):
    id: NonEmptyId
    name: Name = Field(min_length=1)
    parent_id: RefId | None = None


class UserRecord(_Record):
    id: NonEmptyId
    name: Name | None = None
    source: Name | None = None


class InteractionRecord(_Record):
    user_id: NonEmptyId
    product_id: NonEmptyId
    kind: InteractionKind = InteractionKind.PURCHASE
    ts: Int64 | None = Field(None, description="epoch seconds")
    seq: Int64 | None = Field(None, description="position in the user's ordered history")
    rating: float | None = Field(None, ge=0, le=5, allow_inf_nan=False)
    count: Annotated[int, Field(ge=1, le=INT64_MAX)] = 1


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

