"""The :class:`EntityExtractor` interface: product text in, typed mentions with confidence out.

An extractor sees a batch of :class:`TextItem` s (one per product: its text fields, already cleaned) and
returns one :class:`ItemResult` per item, in order. It never raises for one bad item: a reply it cannot use,
a text it cannot read, is an ``error`` on that item's result, so that a run always completes and counts its
problems. It raises :class:`~kg.errors.ExtractionError` (or :class:`~kg.errors.ConfigError`) only when it
cannot work at all (no endpoint configured, model directory missing).

Mentions carry character offsets into their field when the extractor knows them; normalisation and linking
(:mod:`kg.extract.normalise`, :mod:`kg.extract.link`) turn mentions into graph entities.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from kg.extract.schema import EntityType

#: The product text fields extraction reads, in the order they are tried when one mention occurs in both.
FIELDS: tuple[str, ...] = ("title", "description")


@dataclass(frozen=True)
class TextItem:
    """One product's text: ``fields`` maps a field name (``title``, ``description``) to its text."""

    key: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Mention:
    """A typed span of one field of a product's text."""

    type: EntityType
    text: str
    """The surface form as written in the text."""
    field: str
    start: int
    """Character offset of ``text`` in the field (``-1`` when the extractor could not place it)."""
    end: int
    confidence: float
    extractor: str


@dataclass
class ItemResult:
    """What an extractor found in one item; ``error`` says why the item could not be processed.

    ``notes`` counts recoverable problems (an LLM naming an unknown type, a span not in the text) that cost a
    mention but not the item; the run summary adds them up.
    """

    mentions: list[Mention] = field(default_factory=list)
    error: str | None = None
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, what: str, n: int = 1) -> None:
        if n:
            self.notes[what] = self.notes.get(what, 0) + n


class EntityExtractor(ABC):
    """Finds typed entity mentions in product text.

    Attributes:
        name: identifies the method and its version (``lexicon@1``, ``llm:<model>@extract-v1``); it is written
            on every MENTIONS edge and on the product, so changing it makes the next run extract again.
        model_calls: number of model invocations (forward passes, HTTP requests) so far; cache hits and
            pure-pattern work do not count. Tests use it to show that a re-run on unchanged text costs nothing.
    """

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.model_calls = 0

    @property
    @abstractmethod
    def name(self) -> str:
        """Method and version, e.g. ``lexicon@1``."""

    @abstractmethod
    def extract_batch(self, items: Sequence[TextItem]) -> list[ItemResult]:
        """One result per item, in order."""

    def extract(self, item: TextItem) -> ItemResult:
        return self.extract_batch([item])[0]

    def close(self) -> None:  # noqa: B027  (optional hook, most extractors hold nothing)
        """Release what the extractor holds (HTTP pools, caches)."""


def locate(text: str, surface: str, start_hint: int = 0) -> tuple[int, int]:
    """Offsets of ``surface`` in ``text`` (exact, else case-insensitive), searching from ``start_hint`` first;
    ``(-1, -1)`` when it does not occur."""
    if not surface:
        return -1, -1
    for haystack, needle in ((text, surface), (text.lower(), surface.lower())):
        i = haystack.find(needle, start_hint)
        if i < 0:
            i = haystack.find(needle)
        if i >= 0:
            return i, i + len(surface)
    return -1, -1


def remove_overlaps(mentions: Sequence[Mention], priority: Mapping[str, int] | None = None) -> list[Mention]:
    """Keep, per field, a set of non-overlapping mentions: higher ``priority[extractor]`` first, then longer
    spans, then higher confidence. Mentions without offsets are kept unless an identical one exists."""
    priority = priority or {}
    ranked = sorted(
        mentions, key=lambda m: (-priority.get(m.extractor, 0), -(m.end - m.start), -m.confidence, m.start)
    )
    kept: list[Mention] = []
    taken: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for m in ranked:
        key = (m.field, m.type.value, m.text.lower())
        if m.start < 0:
            if key not in seen:
                kept.append(m)
                seen.add(key)
            continue
        spans = taken.setdefault(m.field, [])
        if any(m.start < e and s < m.end for s, e in spans):
            continue
        spans.append((m.start, m.end))
        seen.add(key)
        kept.append(m)
    return sorted(kept, key=lambda m: (FIELDS.index(m.field) if m.field in FIELDS else 99, m.start))
