"""Request filters (brand, category, price range) turned into a boolean mask over the catalog's products.

Brand and category values match a node's id exactly or its name after normalisation ("l'oreal paris" finds
brand "L'Oreal Paris"); several values of one filter are alternatives (OR), different filters all apply
(AND). A value that names no node is an error, not an empty answer: a typo should not look like "nothing in
stock". A price bound excludes products without a price. A filter on a field that no product of the catalog
has (no prices at all, no brands) is an error saying so, not an empty answer. Masks are cached per filter
combination.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from api.errors import InvalidRequestError, NotFoundError
from api.serving.catalog import Catalog
from api.serving.text import normalize

MAX_FILTER_VALUES = 20
_CACHE_SIZE = 512


@dataclass(frozen=True)
class Filters:
    brands: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_price: float | None = None
    max_price: float | None = None

    @property
    def empty(self) -> bool:
        return not self.brands and not self.categories and self.min_price is None and self.max_price is None

    def describe(self) -> str:
        parts = [f"brand={'|'.join(self.brands)}"] if self.brands else []
        parts += [f"category={'|'.join(self.categories)}"] if self.categories else []
        if self.min_price is not None or self.max_price is not None:
            parts.append(f"price {self.min_price if self.min_price is not None else 0}.."
                         f"{self.max_price if self.max_price is not None else 'any'}")
            if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
                parts[-1] += " (an empty range: min_price > max_price, no product matches)"
        return ", ".join(parts)


def make_filters(brand: list[str] | None, category: list[str] | None, min_price: float | None,
                 max_price: float | None) -> Filters:
    """Validate raw query parameters into :class:`Filters` (comma-separated values are split)."""
    def values(raw: list[str] | None, name: str) -> tuple[str, ...]:
        # ``brand=`` (empty) is no brand filter, as an absent parameter is.
        out = [v.strip() for item in raw or [] for v in item.split(",") if v.strip()]
        if len(out) > MAX_FILTER_VALUES:
            raise InvalidRequestError(f"at most {MAX_FILTER_VALUES} {name} values, got {len(out)}",
                                      location=("query", name))
        return tuple(dict.fromkeys(out))

    for name, bound in (("min_price", min_price), ("max_price", max_price)):
        if bound is not None and (not math.isfinite(bound) or bound < 0):
            raise InvalidRequestError(f"{name} must be a finite number >= 0, got {bound}", location=("query", name))
    return Filters(values(brand, "brand"), values(category, "category"), min_price, max_price)


def absent_fields(catalog: Catalog) -> frozenset[str]:
    """The filterable fields that no product of ``catalog`` has."""
    absent = {name for name in ("brand", "category") if catalog.attributes[name].idx.size == 0}
    if catalog.num_products and not np.isfinite(catalog.price).any():
        absent.add("price")
    return frozenset(absent)


class FilterResolver:
    """Resolves :class:`Filters` against one catalog; thread-safe LRU of masks."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lookup: dict[str, dict[str, list[int]]] = {}
        for node_type in ("brand", "category"):
            table: dict[str, list[int]] = {}
            for i, node_id in enumerate(catalog.node_ids[node_type]):
                for key in {node_id, normalize(node_id), normalize(catalog.node_names[node_type][i] or "")}:
                    if key and i not in table.setdefault(key, []):
                        table[key].append(i)
            self._lookup[node_type] = table
        self._cache: OrderedDict[Filters, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.absent = absent_fields(catalog)

    def check_fields(self, filters: Filters) -> None:
        """:class:`InvalidRequestError` when ``filters`` ask for a field no product of the catalog has."""
        asked = {"brand": bool(filters.brands), "category": bool(filters.categories),
                 "price": filters.min_price is not None or filters.max_price is not None}
        lacking = [name for name, wanted in asked.items() if wanted and name in self.absent]
        if lacking:
            raise InvalidRequestError(
                f"this catalog has no {' and no '.join(lacking)} for any product: a {'/'.join(lacking)} filter "
                "would always match nothing (see `cartograph info`, data quality)")

    def resolve(self, node_type: str, value: str) -> list[int]:
        """Node indexes a filter value names; :class:`NotFoundError` (404, as an unknown id in a path) when none."""
        table = self._lookup[node_type]
        found = table.get(value) or table.get(normalize(value))
        if not found:
            raise NotFoundError(f"unknown {node_type} {value!r} (give a {node_type} id or name)")
        return found

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Products passing ``filters`` (``None`` when there is no filter)."""
        if filters.empty:
            return None
        self.check_fields(filters)
        with self._lock:
            cached = self._cache.get(filters)
            if cached is not None:
                self._cache.move_to_end(filters)
                return cached
        mask = self._compute(filters)
        mask.setflags(write=False)
        with self._lock:
            self._cache[filters] = mask
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return mask

    def _compute(self, filters: Filters) -> np.ndarray:
        c = self.catalog
        mask = np.ones(c.num_products, dtype=bool)
        for node_type, vals in (("brand", filters.brands), ("category", filters.categories)):
            if not vals:
                continue
            allowed = np.zeros(c.num_products, dtype=bool)
            for value in vals:
                for i in self.resolve(node_type, value):
                    allowed[c.members[node_type].row(i)] = True
            mask &= allowed
        if filters.min_price is not None:
            mask &= c.price >= filters.min_price  # NaN (no price) compares False: excluded
        if filters.max_price is not None:
            mask &= c.price <= filters.max_price
        return mask
