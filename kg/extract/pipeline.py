"""``run_extract``: product text in the graph -> typed, deduplicated Entity nodes and MENTIONS edges.

Incremental by content hash: a product is extracted when its ``text_hash`` differs from the
``extracted_hash`` written the last time, or when the extractor changed (``extracted_by``); otherwise it is
skipped without any model call. Products are processed in chunks, and each chunk's edges, new entities and
markers are written before the next chunk starts, so an interrupted run loses at most one chunk and a re-run
picks up where it stopped.

Bad input never stops a run: empty text (nothing to extract: the product is marked done with no entities),
huge descriptions (cut to :data:`MAX_EXTRACT_CHARS`, counted), leftover HTML/CSS (cleaned again, counted),
non-Latin text (extracted, counted), an extractor error on one product (logged, counted, the product keeps
its previous entities and is retried on the next run).
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.config import Settings
from kg.extract.base import EntityExtractor, Mention, TextItem
from kg.extract.link import (
    LinkStats,
    delete_orphans,
    known_entities,
    prepare_store,
    resolve_mentions,
    write_links,
)
from kg.extract.normalise import EntityResolver, Similarity
from kg.ingest.cleaning import clean_text
from kg.store import GraphStore, open_store

log = logging.getLogger(__name__)

MAX_EXTRACT_CHARS = 5_000
"""Description characters an extractor sees: the head of a description names what the product is; a 20k
character description would cost a model or an LLM 4x more for little more."""
_MARKUP = ("<", "&#", "&amp;", "{", "['")

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after every chunk."""


@dataclass
class ExtractSummary:
    """What one run did; printed by ``cartograph extract`` and returned by :func:`run_extract`."""

    extractor: str
    products_total: int = 0
    products_unchanged: int = 0
    products_to_extract: int = 0
    products_processed: int = 0
    products_failed: int = 0
    mentions: int = 0
    mentions_linked_existing: int = 0
    mentions_to_new_entities: int = 0
    entities_new: int = 0
    entities_new_by_type: dict[str, int] = field(default_factory=dict)
    mentions_by_type: dict[str, int] = field(default_factory=dict)
    near_duplicates_merged: int = 0
    type_conflicts: int = 0
    orphan_entities_deleted: int = 0
    input_problems: dict[str, int] = field(default_factory=dict)
    """empty text, truncated, markup cleaned, non-Latin script: counted, the product kept."""
    extractor_notes: dict[str, int] = field(default_factory=dict)
    """Mentions an extractor dropped (unknown type, span not in the text, ...)."""
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: list[str] = field(default_factory=list)
    model_calls: int = 0
    seconds: float = 0.0
    message: str | None = None

    @property
    def products_per_s(self) -> float:
        return self.products_processed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "products_per_s": round(self.products_per_s, 2)}


def _non_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8:
        return False
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters) < 0.5


def prepare_item(row: dict[str, Any], problems: Counter[str]) -> TextItem | None:
    """The text an extractor sees for one product row, or None when there is none (counted)."""
    fields: dict[str, str] = {}
    for name in ("title", "description"):
        text = row.get(name) or ""
        if any(marker in text for marker in _MARKUP):
            cleaned = clean_text(text, single_line=name == "title").text or ""
            if cleaned != text:
                problems["markup cleaned again"] += 1
            text = cleaned
        if name == "description" and len(text) > MAX_EXTRACT_CHARS:
            problems[f"description cut to {MAX_EXTRACT_CHARS} characters"] += 1
            text = text[:MAX_EXTRACT_CHARS]
        if text.strip():
            fields[name] = text
    if not fields:
        problems["empty text (no title, no description)"] += 1
        return None
    if _non_latin(" ".join(fields.values())):
        problems["mostly non-Latin script (extracted anyway)"] += 1
    return TextItem(row["id"], fields)


def _todo(store: GraphStore, extractor_name: str, full: bool) -> tuple[list[str], int]:
    rows = store.run_named("extract/product_state")
    todo = [r["id"] for r in rows
            if full or r["extracted_hash"] is None or r["extracted_hash"] != r["text_hash"]
            or r["extracted_by"] != extractor_name]
    return sorted(todo), len(rows)


def extract_into(
    store: GraphStore,
    extractor: EntityExtractor,
    *,
    full: bool = False,
    limit: int | None = None,
    chunk_size: int = 256,
    similarity: Similarity | None = None,
    progress: Progress | None = None,
) -> ExtractSummary:
    """Extract entities for every product whose text changed since the last run (all with ``full``) and link
    them into ``store`` (schema created or migrated first). See the module docstring."""
    started = time.perf_counter()
    calls_before = extractor.model_calls
    prepare_store(store)
    summary = ExtractSummary(extractor=extractor.name)
    todo, summary.products_total = _todo(store, extractor.name, full)
    if limit is not None:
        todo = todo[:limit]
    summary.products_to_extract = len(todo)
    summary.products_unchanged = summary.products_total - len(todo)
    known = known_entities(store)
    preexisting = {e.id for e in known}
    in_graph = set(preexisting)  # grows as batches create entities (preexisting does not: it feeds the stats)
    resolver = EntityResolver(known, similarity)
    stats = LinkStats(Counter(), Counter())
    problems: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for offset in range(0, len(todo), chunk_size):
        ids = todo[offset:offset + chunk_size]
        rows = store.run_named("extract/product_texts", {"ids": ids})
        done: list[tuple[str, str, str]] = []
        items: list[TextItem] = []
        hashes: dict[str, str] = {}
        for row in rows:
            hashes[row["id"]] = row["text_hash"] or ""
            item = prepare_item(row, problems)
            if item is None:
                done.append((row["id"], hashes[row["id"]], extractor.name))
            else:
                items.append(item)
        by_product: dict[str, list[Mention]] = {}
        for item, result in zip(items, _safe_batch(extractor, items), strict=True):
            notes.update(result.notes)
            if result.error is not None:
                errors[result.error.split(":")[0]] += 1
                if len(summary.error_examples) < 20:
                    summary.error_examples.append(f"{item.key}: {result.error}")
                log.warning("extraction failed for %s: %s", item.key, result.error)
                continue
            by_product[item.key] = result.mentions
            done.append((item.key, hashes[item.key], extractor.name))
        links = resolve_mentions(resolver, by_product, stats, preexisting)
        write_links(store, links, done, in_graph)
        summary.products_processed += len(done)
        summary.mentions += len(links)
        if progress:
            progress(min(offset + chunk_size, len(todo)), len(todo))
    if todo:
        summary.orphan_entities_deleted = delete_orphans(store)
    summary.products_failed = sum(errors.values())
    summary.mentions_linked_existing, summary.mentions_to_new_entities = stats.linked_existing, stats.to_new
    summary.entities_new = sum(stats.new_entities.values())
    summary.entities_new_by_type = dict(sorted(stats.new_entities.items()))
    summary.mentions_by_type = dict(sorted(stats.mentions_by_type.items()))
    summary.near_duplicates_merged, summary.type_conflicts = stats.merged, stats.type_conflicts
    summary.input_problems, summary.extractor_notes, summary.errors = dict(problems), dict(notes), dict(errors)
    summary.model_calls = extractor.model_calls - calls_before
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _safe_batch(extractor: EntityExtractor, items: Sequence[TextItem]) -> list[Any]:
    """The extractor's results; an extractor that raises on a batch costs that batch, not the run."""
    from kg.errors import ConfigError, ExtractionError
    from kg.extract.base import ItemResult

    if not items:
        return []
    try:
        results = extractor.extract_batch(items)
    except (ConfigError, ExtractionError):
        raise
    except Exception as e:  # a bug or an unexpected reply in one batch must not lose the whole run
        log.exception("extractor %s failed on a batch of %d products", extractor.name, len(items))
        return [ItemResult(error=f"extractor crashed: {type(e).__name__}: {e}") for _ in items]
    if len(results) != len(items):
        return [ItemResult(error="extractor returned a wrong number of results") for _ in items]
    return results


def run_extract(
    settings: Settings,
    *,
    extractor: str | EntityExtractor | None = None,
    full: bool = False,
    limit: int | None = None,
    merge_by_embedding: bool = True,
    progress: Progress | bool | None = None,
) -> ExtractSummary:
    """Extract entities from the configured store's products and link them (the step after ingest).

    ``extractor``: a name (``auto``, ``lexicon``, ``hybrid``, ``tokens``, ``llm``; default: the settings'),
    or an extractor instance. ``progress``: a callback, True for a progress bar on stderr, None for a bar
    only on a terminal. ``merge_by_embedding``: confirm fuzzy near-duplicate merges with MiniLM embeddings
    (loaded only when a candidate pair comes up).
    """
    from kg.extract.factory import build_extractor

    with open_store(settings) as store:
        prepare_store(store)
        message = None
        if isinstance(extractor, EntityExtractor):
            chosen = extractor
        else:
            chosen, message = build_extractor(settings, store, extractor or settings.extractor)
        similarity = _lazy_similarity(settings) if merge_by_embedding else None
        try:
            with _progress_bar(progress) as callback:
                summary = extract_into(store, chosen, full=full, limit=limit, similarity=similarity,
                                       progress=callback)
        finally:
            if not isinstance(extractor, EntityExtractor):
                chosen.close()
        summary.message = message
        return summary


def _lazy_similarity(settings: Settings) -> Similarity:
    """MiniLM cosine, loading the encoder on the first call (most runs never need it)."""
    state: dict[str, Similarity] = {}

    def similarity(a: str, b: str) -> float:
        if "f" not in state:
            from kg.extract.link import embedding_similarity
            from kg.text import TextEncoder

            state["f"] = embedding_similarity(TextEncoder(cache_dir=settings.home / "cache" / "text", num_threads=2))
        return state["f"](a, b)

    return similarity


class _progress_bar:
    """A rich progress bar as a :data:`Progress` callback (or the caller's callback, or nothing)."""

    def __init__(self, progress: Progress | bool | None) -> None:
        self.user = progress if callable(progress) else None
        self.enabled = progress if isinstance(progress, bool) else None
        self.bar: Any = None

    def __enter__(self) -> Progress | None:
        if self.user is not None:
            return self.user
        from kg.progress import progress_bars

        self.bar = progress_bars(self.enabled)
        if self.bar.disable:
            self.bar = None
            return None
        self.bar.start()
        task = self.bar.add_task("extracting", total=None)

        def update(done: int, total: int) -> None:
            self.bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
