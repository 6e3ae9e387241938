"""Data quality of a catalog: what an operator should know before trusting recommendations built on it.

Quarantine catches records that cannot be loaded; this catches records that load fine and are still wrong or
thin: titles that are markup fragments or placeholders (2018 scrapes hold ``Industrial & Scientific" />``),
fields that no product has at all (no prices: a price filter can only return nothing), duplicate titles and
implausible values. Each finding has a count and a few examples (``id: value``) to look at. The same
assessment runs on the records of an ingest (its report) and on the graph (``cartograph info``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field, computed_field
from rich.table import Table

from kg.store.base import GraphStore

MAX_EXAMPLES = 5
MAX_PLAUSIBLE_PRICE = 100_000.0
FIELDS = ("title", "description", "price", "brand", "category")
"""The fields whose absence from the whole catalog is reported."""

# Markup where a title should be: tags, self-closing fragments, escaped tags, CSS rules, URLs.
_MARKUP = re.compile(r"<[a-zA-Z/!][^<>]*>|/>|&lt;|&gt;|\{[^{}]*:[^{}]*\}|https?://", re.I)
_PLACEHOLDERS = frozenset({"", "null", "none", "nan", "n/a", "na", "untitled", "title", "product", "unknown",
                           "test", "tbd", "item", "no title", "-", "."})
_LETTER = re.compile(r"[^\W\d_]")

MARKUP_TITLES = "markup or placeholder titles"
DUPLICATE_TITLES = "products sharing their title with another product"
ZERO_PRICES = "prices of 0"
HIGH_PRICES = f"prices above {MAX_PLAUSIBLE_PRICE:,.0f}"
SHORT_TITLES = "titles of 1 or 2 characters"
DESCRIPTION_IS_TITLE = "descriptions equal to the title"


class Finding(BaseModel):
    count: int = 0
    examples: list[str] = Field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example[:160])


class DataQuality(BaseModel):
    """Products assessed, how many have each field, and the findings (only those that occur)."""

    products: int = 0
    coverage: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    findings: dict[str, Finding] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def absent_fields(self) -> list[str]:
        """Fields that no product has (empty when there are no products: nothing to say)."""
        return [f for f, n in self.coverage.items() if n == 0] if self.products else []

    def finding(self, name: str) -> Finding:
        return self.findings.setdefault(name, Finding())


def is_markup_or_placeholder(title: str | None) -> bool:
    """A title that is a markup fragment, a placeholder word, or has no letter at all."""
    if title is None:
        return False
    text = title.strip()
    return bool(_MARKUP.search(text)) or text.lower() in _PLACEHOLDERS or not _LETTER.search(text)


def assess(products: Iterable[Mapping[str, Any]]) -> DataQuality:
    """Assess products given as mappings with ``id``, ``title`` (cleaned), ``title_raw`` (as read, when it
    differs), ``description``, ``price``, ``brand`` (truthy when the product has one), ``categories`` (count)."""
    quality = DataQuality()
    titles: dict[str, list[str]] = {}
    for p in products:
        quality.products += 1
        _assess_one(p, quality)
        title = p.get("title")
        if title:
            titles.setdefault(title.strip().lower(), []).append(str(p.get("id")))
    duplicates = Counter({t: len(ids) for t, ids in titles.items() if len(ids) > 1})
    for title, _ in duplicates.most_common():
        for product_id in titles[title]:
            quality.finding(DUPLICATE_TITLES).add(f"{product_id}: {title}")
    return quality


def _assess_one(p: Mapping[str, Any], quality: DataQuality) -> None:
    pid, title, price = str(p.get("id")), p.get("title"), p.get("price")
    raw = p.get("title_raw") or title
    present = {"title": bool(title), "description": bool(p.get("description")),
               "price": isinstance(price, int | float) and price == price,
               "brand": bool(p.get("brand")), "category": bool(p.get("categories"))}
    for name, has in present.items():
        quality.coverage[name] += int(has)
    if raw is not None and (is_markup_or_placeholder(raw) or not title):
        quality.finding(MARKUP_TITLES).add(f"{pid}: {raw}")
    elif title and len(title.strip()) < 3:
        quality.finding(SHORT_TITLES).add(f"{pid}: {title}")
    if isinstance(price, int | float) and present["price"]:
        if price == 0:
            quality.finding(ZERO_PRICES).add(pid)
        elif price > MAX_PLAUSIBLE_PRICE:
            quality.finding(HIGH_PRICES).add(f"{pid}: {price}")
    description = p.get("description")
    if title and description and description.strip().lower() == title.strip().lower():
        quality.finding(DESCRIPTION_IS_TITLE).add(pid)


def quality_lines(quality: DataQuality) -> list[str]:
    """The warnings an operator must not miss, as sentences (empty when there is nothing to say)."""
    lines = []
    if quality.absent_fields:
        lines.append(f"no product has a {', '.join(quality.absent_fields)}: filters and explanations on "
                     f"{'it' if len(quality.absent_fields) == 1 else 'them'} have nothing to work with")
    markup = quality.findings.get(MARKUP_TITLES)
    if markup:
        lines.append(f"{markup.count} products have a markup or placeholder title, e.g. {markup.examples[0]!r}")
    return lines


def quality_table(quality: DataQuality) -> Table:
    table = Table("check", "count", "examples", title=f"data quality ({quality.products:,} products)")
    for name in FIELDS:
        n = quality.coverage.get(name, 0)
        share = f"{n / quality.products:.0%}" if quality.products else "-"
        table.add_row(f"products with a {name}", f"{n:,} ({share})", "ABSENT FROM THE CATALOG" if
                      name in quality.absent_fields else "")
    for name, finding in quality.findings.items():
        table.add_row(name, f"{finding.count:,}", "; ".join(finding.examples[:3]))
    return table


def graph_quality(store: GraphStore) -> DataQuality:
    """The data quality of every product in the graph."""
    return assess(store.run_named("quality/products"))
