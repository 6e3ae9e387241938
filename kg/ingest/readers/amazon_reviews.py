"""Amazon Reviews 2018 and 2023 (J. McAuley's lab), any category, as the releases publish them.

One folder holds one or more categories; each category is a metadata file and, optionally, its reviews or
ratings (the category name ``<C>`` is taken from the file names, never a fixed list):

- **2018** (``amazon-2018``): ``meta_<C>.json[.gz]`` (one JSON object per line: ``asin``, ``title``, ``brand``,
  ``category`` list, ``description`` list, ``feature`` list, ``price`` text such as ``"$12.99"``, ``details``,
  ``also_buy``, ``also_view``, ``main_cat``); reviews ``<C>.json[.gz]`` or the 5-core ``<C>_5.json[.gz]``
  (``reviewerID``, ``asin``, ``overall``, ``unixReviewTime``, ``verified``); or, without reviews, the
  ratings-only ``<C>.csv[.gz]`` (``item,user,rating,timestamp``, no header).
- **2023** (``amazon-2023``): ``meta_<C>.jsonl[.gz]`` keyed by ``parent_asin`` (``title``, ``main_category``,
  ``categories`` list, ``price`` number/null/text, ``store``, ``details`` dict, ``description`` and
  ``features`` lists, ``bought_together``); reviews ``<C>.jsonl[.gz]`` (``user_id``, ``parent_asin``,
  ``rating``, ``timestamp`` in ms, ``verified_purchase``); or ratings ``<C>.csv[.gz]`` with a header
  ``user_id,parent_asin,rating,timestamp``.

Files are streamed line by line, twice each (names and ids first, so that brands, categories and users can be
yielded before the records that point at them), so memory holds ids and names, never the files. Product ids
are ASINs (2023: ``parent_asin``, the product a review is about), user ids Amazon's: both are global, so
categories and releases can be loaded into one graph. A review is a ``purchase`` when the release says the
purchase was verified, otherwise a ``rating``. A line that is not strict JSON (the 2014 release wrote Python
literals) is quarantined with the reason; one bad line costs one record.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from kg.errors import ValidationError
from kg.ingest.readers.base import BaseReader, NameIndex, broken, clean_name, iter_lines, parse_json, record
from kg.ingest.records import RawRecord, RecordKind, slug


@dataclass(frozen=True)
class Layout:
    """How one release names its files and fields."""

    release: str
    meta_suffixes: tuple[str, ...]
    review_names: tuple[str, ...]
    """Review file names, ``{c}`` = category, in order of preference (the first present is read)."""
    id_field: str
    user_field: str
    review_product_field: str
    rating_field: str
    time_field: str
    time_divisor: int
    verified_field: str
    categories_field: str
    main_category_field: str
    features_field: str
    links: dict[str, str]
    csv_header: tuple[str, ...] | None
    """The ratings CSV's columns when it has a header row; None: ``item,user,rating,timestamp`` headerless."""


AMAZON_2018 = Layout(
    release="amazon-2018", meta_suffixes=(".json", ".json.gz"),
    review_names=("{c}.json", "{c}.json.gz", "{c}_5.json", "{c}_5.json.gz"),
    id_field="asin", user_field="reviewerID", review_product_field="asin", rating_field="overall",
    time_field="unixReviewTime", time_divisor=1, verified_field="verified", categories_field="category",
    main_category_field="main_cat", features_field="feature",
    links={"also_buy": "also_bought", "also_view": "also_viewed"}, csv_header=None,
)
AMAZON_2023 = Layout(
    release="amazon-2023", meta_suffixes=(".jsonl", ".jsonl.gz"),
    review_names=("{c}.jsonl", "{c}.jsonl.gz"),
    id_field="parent_asin", user_field="user_id", review_product_field="parent_asin", rating_field="rating",
    time_field="timestamp", time_divisor=1000, verified_field="verified_purchase", categories_field="categories",
    main_category_field="main_category", features_field="features",
    links={"bought_together": "bought_together"}, csv_header=("user_id", "parent_asin", "rating", "timestamp"),
)
CSV_2018_COLUMNS = ("item", "user", "rating", "timestamp")

# Details that describe the listing, not the product: left out of the text that extraction and embeddings see.
_SKIPPED_DETAILS = re.compile(r"asin|date first available|best sellers? rank|customer reviews|upc|"
                              r"is discontinued|item model number|domestic shipping|international shipping",
                              re.I)
_PRICE = re.compile(r"^\s*(?:US)?\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*$")
_PRICE_RANGE = re.compile(r"^\s*\$?\s*[\d,.]+\s*-\s*\$?\s*[\d,.]+\s*$")
_MARKUP = re.compile(r"[<>]")
_ALT = re.compile(r'alt="([^"]*)"')
_VISIT_BRAND = re.compile(r"^Visit Amazon's (.*) Page$", re.I)
_PY_LITERAL = re.compile(r"^\s*\{\s*'")


@dataclass(frozen=True)
class CategoryFiles:
    """One category's files: the metadata and, when present, the reviews or ratings file."""

    name: str
    """The category as the file names spell it (``Office_Products``)."""
    meta: Path
    reviews: Path | None
    ratings: Path | None

    @property
    def display_name(self) -> str:
        return self.name.replace("_", " ")


def meta_category(path: Path, layout: Layout) -> str | None:
    """``<C>`` of a ``meta_<C><suffix>`` file of ``layout``'s release, or None."""
    name = path.name
    if not name.startswith("meta_"):
        return None
    for suffix in sorted(layout.meta_suffixes, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len("meta_") + len(suffix):
            return name[len("meta_") : -len(suffix)]
    return None


def find_categories(path: Path, layout: Layout) -> list[CategoryFiles]:
    """Every category in ``path`` (a folder, or one metadata file whose reviews lie beside it)."""
    metas = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found: dict[str, CategoryFiles] = {}
    for meta in metas:
        name = meta_category(meta, layout)
        if name is None or name in found:
            continue
        folder = meta.parent
        reviews = next((folder / n.format(c=name) for n in layout.review_names
                        if (folder / n.format(c=name)).is_file()), None)
        ratings = next((folder / f"{name}{s}" for s in (".csv", ".csv.gz") if (folder / f"{name}{s}").is_file()), None)
        found[name] = CategoryFiles(name, meta, reviews, ratings)
    return list(found.values())


@dataclass
class _Catalog:
    """What the first pass over the metadata learns: the ids, and the brand and category names."""

    ids: set[str] = field(default_factory=set)
    brands: NameIndex = field(default_factory=lambda: NameIndex(RecordKind.BRAND))
    categories: NameIndex = field(default_factory=lambda: NameIndex(RecordKind.CATEGORY))


class AmazonReviewsReader(BaseReader):
    """Reads a folder of Amazon Reviews categories of one release (see the module docstring)."""

    layout: ClassVar[Layout] = AMAZON_2018
    source = "amazon-2018"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.categories = find_categories(self.path, self.layout) if self.path.exists() else []
        if len(self.categories) == 1:  # the source names the category the data holds
            self.source = f"{self.layout.release}:{slug(self.categories[0].name)}"  # type: ignore[misc]

    def _read(self) -> Iterator[RawRecord]:
        if not self.categories:
            raise ValidationError(
                f"{self.path} holds no {self.layout.release} metadata file: expected "
                f"meta_<Category>{' or meta_<Category>'.join(self.layout.meta_suffixes)} (and optionally the "
                f"reviews {', '.join(n.format(c='<Category>') for n in self.layout.review_names)})")
        catalog = _Catalog()
        for files in self.categories:
            self._scan_meta(files, catalog)
        self.note("brand spellings merged into another spelling's id (same slug)", catalog.brands.merged_spellings)
        self.note("category names merged into another name's id (same slug)", catalog.categories.merged_spellings)
        yield from catalog.brands.records()
        yield from catalog.categories.records()
        for files in self.categories:
            yield from self._products(files, catalog)
        users = self._scan_users()
        for user, location in users.items():
            yield record(RecordKind.USER, {"id": user, "name": None, "source": self.source}, location)
        for files in self.categories:
            yield from self._interactions(files)
        for files in self.categories:
            yield from self._links(files, catalog.ids)

    # -- metadata --------------------------------------------------------------------------------------
    def _meta_lines(self, files: CategoryFiles) -> Iterator[tuple[str, dict[str, Any] | None, str, str | None]]:
        """(location, object or None, raw text, error) for every non-blank metadata line."""
        yield from _json_lines(files.meta)

    def _scan_meta(self, files: CategoryFiles, catalog: _Catalog) -> None:
        for location, item, _, error in self._meta_lines(files):
            if error is None and item is not None:
                key = _text(item.get(self.layout.id_field))
                if key:
                    catalog.ids.add(key)
                brand = self._brand(item)
                if brand:
                    catalog.brands.add(brand, location)
                for name in self._category_names(item, files):
                    catalog.categories.add(name, location)

    def _products(self, files: CategoryFiles, catalog: _Catalog) -> Iterator[RawRecord]:
        source = f"{self.layout.release}:{slug(files.name)}"
        for location, item, raw, error in self._meta_lines(files):
            if error is not None or item is None:
                yield broken(RecordKind.PRODUCT, raw, location, error or "line is not a JSON object")
                continue
            brand = self._brand(item)
            brand_id = _name_id(brand)
            if brand_id is None:
                self.note("products without a brand")
            category_ids = [_name_id(n) for n in self._category_names(item, files)]
            yield record(RecordKind.PRODUCT, {
                "id": _text(item.get(self.layout.id_field)), "title": _text(item.get("title")),
                "description": self._description(item), "price": self._price(item.get("price")),
                "brand_id": brand_id, "category_ids": list(dict.fromkeys(c for c in category_ids if c)),
                "source": source,
            }, location)

    def _brand(self, item: dict[str, Any]) -> str | None:
        details = item.get("details")
        candidates = [item.get("brand"), details.get("Brand") if isinstance(details, dict) else None,
                      item.get("store")]
        for value in candidates:
            name = _text(value)
            if name and not _MARKUP.search(name):
                visit = _VISIT_BRAND.match(name)  # 2018 scrapes hold "Visit Amazon's Pilot Page"
                return visit.group(1) if visit else name
        return None

    def _category_names(self, item: dict[str, Any], files: CategoryFiles) -> list[str]:
        """The product's category path; else its main category; else the category of the file."""
        names = [n for v in _strings(item.get(self.layout.categories_field)) if (n := _markup_free(v))]
        if not names:
            main = _markup_free(_text(item.get(self.layout.main_category_field)))
            names = [main or files.display_name]
        return names

    def _description(self, item: dict[str, Any]) -> str | None:
        """Description paragraphs, then the feature bullets, then the product details as ``key: value``."""
        paragraphs = [*_strings(item.get("description")), *_strings(item.get(self.layout.features_field))]
        details = item.get("details")
        if isinstance(details, dict):
            pairs = [f"{k}: {v}" for key, value in details.items()
                     if (k := key.strip().rstrip(":").strip()) and not _SKIPPED_DETAILS.search(k)
                     and (v := _text(value))]
            if pairs:
                paragraphs.append("; ".join(pairs))
        return "\n\n".join(paragraphs) or None

    def _price(self, value: Any) -> float | None:
        """A number, or None when the source has none; text that is not one price is noted and left out."""
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return _as_float(value)
        text = str(value).strip()
        if not text or text in {"—", "-", "None", "null"}:
            return None
        match = _PRICE.match(text)
        if match:
            return float(match.group(1).replace(",", "") + (match.group(2) or ""))
        self.note("price ranges (left empty)" if _PRICE_RANGE.match(text) else "prices that are not a number "
                  "(left empty)")
        return None

    # -- users and interactions ---------------------------------------------------------------------------
    def _scan_users(self) -> dict[str, str]:
        """Every user id, with where it was first read, in file order."""
        users: dict[str, str] = {}
        for files in self.categories:
            for location, row in self._interaction_rows(files):
                if isinstance(row, dict):
                    user = _text(row.get("user_id"))
                    if user and user not in users:
                        users[user] = location
        return users

    def _interactions(self, files: CategoryFiles) -> Iterator[RawRecord]:
        for location, row in self._interaction_rows(files):
            if not isinstance(row, dict):
                raw, error = row
                yield broken(RecordKind.INTERACTION, raw, location, error)
                continue
            if row.pop("unverified", False):
                self.note("reviews without a verified purchase (loaded as ratings)")
            yield record(RecordKind.INTERACTION, row, location)

    def _interaction_rows(self, files: CategoryFiles) -> Iterator[tuple[str, dict[str, Any] | tuple[str, str]]]:
        """(location, interaction data) or (location, (raw, error)) from the reviews, else the ratings."""
        layout = self.layout
        if files.reviews is not None:
            for location, review, raw, error in _json_lines(files.reviews):
                if error is not None or review is None:
                    yield location, (raw, error or "line is not a JSON object")
                    continue
                verified = review.get(layout.verified_field)
                yield location, {
                    "user_id": _text(review.get(layout.user_field)),
                    "product_id": _text(review.get(layout.review_product_field)),
                    "kind": "rating" if verified is False else "purchase",
                    "ts": _seconds(review.get(layout.time_field), layout.time_divisor),
                    "rating": review.get(layout.rating_field), "unverified": verified is False,
                }
        elif files.ratings is not None:
            yield from self._csv_ratings(files.ratings)

    def _csv_ratings(self, path: Path) -> Iterator[tuple[str, dict[str, Any] | tuple[str, str]]]:
        header = self.layout.csv_header
        for line in iter_lines(path):
            location = f"{path.name}:{line.number}"
            if not line.text.strip() or (header and line.number == 1):
                continue
            if line.error:
                yield location, (line.text, line.error)
                continue
            try:
                fields = next(csv.reader([line.text]), [])
            except csv.Error as e:
                yield location, (line.text, f"invalid CSV: {e}")
                continue
            if len(fields) != 4:
                yield location, (line.text, f"invalid CSV: {len(fields)} fields, expected 4 "
                                 f"({','.join(header or CSV_2018_COLUMNS)})")
                continue
            columns = (fields[1], fields[0]) if header is None else (fields[0], fields[1])
            yield location, {"user_id": columns[0].strip(), "product_id": columns[1].strip(), "kind": "rating",
                             "rating": _number(fields[2]),
                             "ts": _seconds(_number(fields[3]), self.layout.time_divisor)}

    # -- links -----------------------------------------------------------------------------------------
    def _links(self, files: CategoryFiles, catalog: set[str]) -> Iterator[RawRecord]:
        """Co-purchase / co-view links between products of the catalog; the others are noted."""
        for location, item, _, error in self._meta_lines(files):
            if error is not None or item is None:
                continue
            src = _text(item.get(self.layout.id_field))
            for field_name, kind in self.layout.links.items():
                targets = [t for t in dict.fromkeys(_strings(item.get(field_name))) if t != src]
                outside = [t for t in targets if t not in catalog]
                self.note(f"{kind} links to products outside the catalog (not loaded)", len(outside))
                for dst in targets:
                    if src and dst in catalog:
                        yield record(RecordKind.LINK, {"src": src, "dst": dst, "kind": kind}, location)


class Amazon2023Reader(AmazonReviewsReader):
    """Amazon Reviews 2023: ``meta_<C>.jsonl`` keyed by ``parent_asin``, reviews ``<C>.jsonl``."""

    layout = AMAZON_2023
    source = "amazon-2023"


# -- helpers --------------------------------------------------------------------------------------------


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | None, str, str | None]]:
    """(location, object, raw text, error) of each non-blank line of a JSON-lines file."""
    for line in iter_lines(path):
        if not line.text.strip():
            continue
        location = f"{path.name}:{line.number}"
        if line.error:
            yield location, None, line.text, line.error
            continue
        value, error = parse_json(line.text)
        if error is not None:
            reason = ("not JSON: a Python literal (the 2014 release's eval-style lines; convert them to JSON "
                      "first)" if _PY_LITERAL.match(line.text) else error)
            yield location, None, line.text, reason
            continue
        if not isinstance(value, dict):
            yield location, None, line.text, f"line is a JSON {type(value).__name__}, not an object"
            continue
        yield location, value, line.text, None


def _text(value: Any) -> str | None:
    """A non-empty string (numbers as text), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _strings(value: Any) -> list[str]:
    """The non-empty strings of a list (or one string)."""
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(v) for v in items) if t]


def _markup_free(name: str | None) -> str | None:
    """A category name; an HTML fragment (2018's ``main_cat`` holds ``<img ... alt="Office Products"/>``)
    gives its ``alt`` text, or nothing."""
    if not name or not _MARKUP.search(name):
        return clean_name(name) if name else None
    alt = _ALT.search(name)
    return clean_name(alt.group(1)) if alt and alt.group(1).strip() else None


def _name_id(name: str | None) -> str | None:
    """The id :class:`NameIndex` gave ``name`` in the first pass."""
    cleaned = clean_name(name) if name else ""
    return slug(cleaned) if cleaned else None


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the pipeline quarantines it, naming the field


def _as_float(value: float) -> float:
    """``float(value)``; an integer too large for a float becomes infinity (quarantined as not finite)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _seconds(value: Any, divisor: int) -> int | Any:
    """Epoch seconds from seconds or milliseconds; a value that is not a number is passed on to be rejected."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value // divisor
    if isinstance(value, float) and math.isfinite(value):
        return int(value // divisor)
    return value  # NaN, infinity: the pipeline quarantines it, naming the field
