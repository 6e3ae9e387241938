"""What a catalog export changes in the graph, computed before anything is written.

A catalog export is the whole catalog of its source(s): a product of those sources that the graph holds,
active, and the export no longer lists is *removed* (it becomes inactive: never recommended, still
explorable, and back if a later export lists it again). Products of other sources are not touched, so one
home can hold several catalogs.

Products are compared by id and content: the node properties the ingest would write (cleaned title and
description, their ``text_hash``, price, active, source) and, when the record states them, its brand and
categories. ``text_changed`` is the part whose text hash differs: only those need their entities extracted and
their text embedded again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from kg.ingest.delta import current_values
from kg.ingest.pipeline import ProductPlan
from kg.schema import NodeLabel, RelType
from kg.store.base import GraphStore

_COMPARED = ("title", "description", "text_hash", "price", "active", "source", "title_raw", "description_raw")


class ChangeSet(BaseModel):
    """Product ids by change, and the brand / category edges that the new records no longer state."""

    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    text_changed: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    stale_made_by: list[tuple[str, str]] = Field(default_factory=list)
    stale_in_category: list[tuple[str, str]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @property
    def touched(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed), "text_changed": len(self.text_changed),
                "removed": len(self.removed), "unchanged": self.unchanged,
                "stale_brand_edges": len(self.stale_made_by), "stale_category_edges": len(self.stale_in_category)}


def _targets(store: GraphStore, rel_type: RelType) -> dict[str, set[str]]:
    by_product: dict[str, set[str]] = defaultdict(set)
    for src, dst in current_values(store, rel_type, ()):
        by_product[src].add(dst)
    return by_product


def diff_catalog(plan: ProductPlan, store: GraphStore) -> ChangeSet:
    """Compare the products an ingest of the export would write (``plan``) with the graph (see module doc)."""
    current: dict[Any, Mapping[str, Any]] = current_values(store, NodeLabel.PRODUCT, _COMPARED)
    brands, categories = _targets(store, RelType.MADE_BY), _targets(store, RelType.IN_CATEGORY)
    changes = ChangeSet(sources=sorted(plan.sources))
    for pid, row in plan.rows.items():
        now = current.get(pid)
        if now is None:
            changes.added.append(pid)
            if row.get("text_hash"):
                changes.text_changed.append(pid)
            continue
        differs = any(now.get(name) != value for name, value in row.items() if name != "id")
        if "text_hash" in row and now.get("text_hash") != row["text_hash"]:
            changes.text_changed.append(pid)
        if pid in plan.brands:
            wanted = {b for b in [plan.brands[pid]] if b}
            stale = brands.get(pid, set()) - wanted
            changes.stale_made_by += [(pid, b) for b in sorted(stale)]
            differs = differs or bool(stale) or not wanted <= brands.get(pid, set())
        if pid in plan.categories:
            wanted = set(plan.categories[pid])
            stale = categories.get(pid, set()) - wanted
            changes.stale_in_category += [(pid, c) for c in sorted(stale)]
            differs = differs or bool(stale) or not wanted <= categories.get(pid, set())
        if differs:
            changes.changed.append(pid)
        else:
            changes.unchanged += 1
    changes.removed = sorted(pid for pid, now in current.items()
                             if pid not in plan.rows and now.get("active") and now.get("source") in plan.sources)
    return changes
