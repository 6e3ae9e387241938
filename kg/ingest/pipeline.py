"""The ingest pipeline: raw records -> validated, cleaned, de-duplicated, reference-checked -> the graph.

Steps, and why they are in this order:

1. **Read and validate** every :class:`RawRecord` into its typed model. A record a reader could not parse,
   or that fails validation, goes to the quarantine file with a specific reason (field, what was expected,
   what was found). Nothing is silently dropped: per kind, ``accepted + quarantined == read``.
2. **De-duplicate** by key (the id; for an interaction the (user, product, kind) triple; for a link
   (src, dst, kind)). An identical repeat is accepted and counted as a duplicate. A repeat with different
   data is quarantined, naming the differing fields and where the first one was read, because guessing which
   one is right would be silent data loss, except for interactions: a user who bought a product twice is
   not a conflict, so repeats of one pair are folded into one edge (``count`` summed, latest ``ts``/``seq``,
   the latest rating) and counted as merged.
3. **Check references** once everything is read (a source may list events before products): an
   interaction or link naming a product or user that is neither in this ingest nor already in the graph is
   quarantined (``unknown product id 'X'``). A product whose brand or category is unknown is still loaded,
   without that edge, and counted under warnings.
4. **Load** through the :class:`GraphStore` in dependency order (brands, categories, products, users, then
   MADE_BY, IN_CATEGORY, SUBCATEGORY_OF, interactions, links), in batches, with idempotent upserts; or, when
   every target table is empty and the store has the bulk path, with ``COPY`` (:mod:`kg.ingest.bulk`), which
   gives the same graph much faster.

Re-running an ingest changes nothing: every write is an upsert keyed by id (or by edge endpoints), and the
values written depend only on the records (no load timestamps). A record states what it gives: a product
field absent from a record is left as it is in the graph; a field given as null clears it. Title and
description are one unit (cleaned together, hashed together). Everything is held in memory until loading;
that suits catalogs of millions of records, not billions.
"""

from __future__ import annotations

import gc
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError as PydanticValidationError
from rich.progress import Progress

from kg.faults import fault_point
from kg.ingest import bulk, delta
from kg.ingest.cleaning import (
    MAX_DESCRIPTION_CHARS,
    MAX_RAW_DESCRIPTION_CHARS,
    MAX_RAW_TITLE_CHARS,
    clean_product_text,
)
from kg.ingest.quality import DataQuality, assess
from kg.ingest.readers.base import MAX_RAW_CHARS, Reader
from kg.ingest.records import (
    MODEL_BY_KIND,
    CategoryRecord,
    InteractionKind,
    InteractionRecord,
    LinkKind,
    LinkRecord,
    ProductRecord,
    RawRecord,
    RecordKind,
    TypedRecord,
    UserRecord,
)
from kg.ingest.report import IngestReport, LoadMethod, StageStats
from kg.progress import progress_bars
from kg.schema import NODES, RELATIONSHIPS, NodeLabel, RelType
from kg.store import cypher_builder as cb
from kg.store.base import GraphStore

Row = dict[str, Any]
_INTERACTION_TYPES = {
    InteractionKind.PURCHASE: RelType.PURCHASED,
    InteractionKind.VIEW: RelType.VIEWED,
    InteractionKind.RATING: RelType.RATED,
}
_LINK_TYPES = {kind: RelType(kind.value.upper()) for kind in LinkKind}
_REFERENCING = (RecordKind.INTERACTION, RecordKind.LINK)  # kinds a reference check may quarantine
_LOOKUP_CHUNK = 1000
MAX_QUARANTINE_LINE_CHARS = 64_000
"""A quarantine line longer than this keeps only the first :data:`MAX_RAW_CHARS` of its record."""


class Reason(NamedTuple):
    """Why a record was quarantined: ``key`` is the general part the report counts, ``text`` the specifics."""

    key: str
    text: str


@dataclass(slots=True)
class _Entry:
    """One accepted record (after folding repeats into it) and where it came from."""

    record: TypedRecord
    location: str
    count: int = 1
    """Records read that this entry stands for (itself, identical duplicates, merged interactions)."""
    raws: list[RawRecord] = field(default_factory=list)
    """Those records as read, kept only for kinds that a reference check may still quarantine."""
    variants: list[TypedRecord] | None = None
    """The distinct interactions folded into ``record`` (set on the first merge), to spot duplicates of any."""


@dataclass(frozen=True)
class _Stage:
    target: NodeLabel | RelType
    kind: RecordKind
    rows: list[Row]


# -- reasons ---------------------------------------------------------------------------------------------
def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def validation_reason(error: PydanticValidationError) -> Reason:
    """One reason for all of a record's validation errors: ``field: expected ..., got <type> <value>``."""
    keys, texts = [], []
    for err in error.errors(include_url=False):
        name = ".".join(str(part) for part in err["loc"]) or "record"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        keys.append(f"{name}: {msg}")
        texts.append(f"{name}: {msg}" if err["type"] == "missing" else f"{name}: {msg}, got {_describe(err['input'])}")
    return Reason("; ".join(keys), "; ".join(texts))


def reader_reason(error: str) -> Reason:
    """A reader's parse error; its general part is the text before the first ': ' (the readers' style)."""
    head = error.split(": ", 1)[0]
    return Reason(head if len(head) <= 80 else "unparseable record", error)


def _capped(text: str | None, max_chars: int) -> tuple[str | None, bool]:
    """``text`` cut to ``max_chars`` and whether it was cut."""
    if text is None or len(text) <= max_chars:
        return text, False
    return text[:max_chars], True


# -- the pipeline ----------------------------------------------------------------------------------------
class _Ingest:
    """State of one ingest run; :func:`ingest` drives it."""

    def __init__(self, reader: Reader, store: GraphStore, quarantine: IO[str], report: IngestReport,
                 progress: Progress, max_description_chars: int) -> None:
        self.reader, self.store, self.report, self.progress = reader, store, report, progress
        self.quarantine_file = quarantine
        self.max_description_chars = max_description_chars
        self.entries: dict[RecordKind, dict[Any, _Entry]] = {kind: {} for kind in RecordKind}
        self.reasons: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.cleaning: Counter[str] = Counter()

    def quarantine(self, raw: RawRecord, reason: Reason) -> None:
        line = {"kind": raw.kind.value, "location": raw.location, "reason": reason.text, "record": raw.data}
        text = json.dumps(line, ensure_ascii=False, default=str)
        if len(text) > MAX_QUARANTINE_LINE_CHARS:  # a 1 MB bad record: enough of it to find it, not a copy
            record = json.dumps(raw.data, ensure_ascii=False, default=str)
            line["record"] = {"truncated": record[:MAX_RAW_CHARS], "chars": len(record)}
            text = json.dumps(line, ensure_ascii=False, default=str)
        self.quarantine_file.write(text + "\n")
        self.report.kinds[raw.kind].quarantined += 1
        self.reasons[reason.key] += 1

    # -- 1 + 2: read, validate, de-duplicate -----------------------------------------------------------
    def read_all(self) -> None:
        task = self.progress.add_task("reading", total=None)
        read: Counter[RecordKind] = Counter()  # a plain counter: setting a pydantic field per record is slow
        for n, raw in enumerate(self.reader.read(), 1):
            read[raw.kind] += 1
            result = self.validate(raw)
            if isinstance(result, Reason):
                self.quarantine(raw, result)
            else:
                self.add(raw, result)
            if n % 1000 == 0:
                self.progress.update(task, completed=n)
        for kind, n in read.items():
            self.report.kinds[kind].read = n
        self.progress.update(task, total=self.report.read, completed=self.report.read)
        self.report.reader_notes = dict(self.reader.notes)

    @staticmethod
    def validate(raw: RawRecord) -> TypedRecord | Reason:
        if raw.error is not None:
            return reader_reason(raw.error)
        try:
            return MODEL_BY_KIND[raw.kind].model_validate(raw.data)  # type: ignore[return-value]
        except PydanticValidationError as e:
            return validation_reason(e)

    def add(self, raw: RawRecord, record: TypedRecord) -> None:
        key = _key(record)
        entries = self.entries[raw.kind]
        first = entries.get(key)
        keep_raw = raw.kind in _REFERENCING
        if first is None:
            entries[key] = _Entry(record, raw.location, raws=[raw] if keep_raw else [])
            return
        stats = self.report.kinds[raw.kind]
        if record in (first.variants or [first.record]):
            stats.duplicates += 1
        elif isinstance(record, InteractionRecord) and isinstance(first.record, InteractionRecord):
            first.variants = [*(first.variants or [first.record]), record]
            first.record = _merge_interactions(first.record, record)
            stats.merged += 1
        else:
            differing = [name for name in type(record).model_fields
                         if getattr(record, name) != getattr(first.record, name)]
            self.quarantine(raw, Reason(
                "duplicate id with conflicting data",
                f"duplicate {raw.kind.value} {key!r} conflicts with the record at {first.location}: "
                f"{', '.join(differing)} differ",
            ))
            return
        first.count += 1
        if keep_raw:
            first.raws.append(raw)

    # -- 3: references -------------------------------------------------------------------------------
    def known_ids(self, label: NodeLabel, kind: RecordKind, wanted: set[str]) -> set[str]:
        """Ids of ``wanted`` that are accepted in this ingest or already in the graph."""
        known = wanted & self.entries[kind].keys()
        missing = sorted(wanted - known)
        for start in range(0, len(missing), _LOOKUP_CHUNK):
            rows = self.store.query(f"MATCH (n:{label.value}) WHERE n.id IN $ids RETURN n.id AS id",
                                    {"ids": missing[start:start + _LOOKUP_CHUNK]})
            known.update(row["id"] for row in rows)
        return known

    def check_references(self) -> None:
        # Interaction keys are (user, product, kind), link keys (src, dst, kind): the ids, without the records.
        interactions, links = self.entries[RecordKind.INTERACTION], self.entries[RecordKind.LINK]
        wanted_products = {k[1] for k in interactions} | {k[0] for k in links} | {k[1] for k in links}
        wanted_users = {k[0] for k in interactions}
        products = self.known_ids(NodeLabel.PRODUCT, RecordKind.PRODUCT, wanted_products)
        users = self.known_ids(NodeLabel.USER, RecordKind.USER, wanted_users)
        if len(products) == len(wanted_products) and len(users) == len(wanted_users):
            return  # every reference resolves (the usual case): no need to look at each record
        for kind in _REFERENCING:
            entries = self.entries[kind]
            unknown = [(key, reason) for key, entry in entries.items()
                       if (reason := _unknown_references(entry.record, products, users)) is not None]
            for key, reason in unknown:
                for raw in entries.pop(key).raws:
                    self.quarantine(raw, reason)

    # -- 4: rows and loading ---------------------------------------------------------------------------
    def stages(self) -> list[_Stage]:
        """Rows per node label and relationship type, in dependency order (empty stages left out)."""
        e = self.entries
        products = [x.record for x in e[RecordKind.PRODUCT].values() if isinstance(x.record, ProductRecord)]
        categories = [x.record for x in e[RecordKind.CATEGORY].values() if isinstance(x.record, CategoryRecord)]
        brands = [_row(x.record, ("id", "name")) for x in e[RecordKind.BRAND].values()]
        stages = [
            _Stage(NodeLabel.BRAND, RecordKind.BRAND, brands),
            _Stage(NodeLabel.CATEGORY, RecordKind.CATEGORY, [_row(c, ("id", "name")) for c in categories]),
            _Stage(NodeLabel.PRODUCT, RecordKind.PRODUCT, [self.product_row(p) for p in products]),
            _Stage(NodeLabel.USER, RecordKind.USER, [self.user_row(x.record) for x in e[RecordKind.USER].values()]),
            *self.product_edges(products),
            _Stage(RelType.SUBCATEGORY_OF, RecordKind.CATEGORY, self.edges(
                ((c.id, c.parent_id) for c in categories if c.parent_id), NodeLabel.CATEGORY, RecordKind.CATEGORY,
                "category parent not found (SUBCATEGORY_OF not created)")),
            *self.interaction_stages(),
        ]
        return [stage for stage in stages if stage.rows]

    def product_row(self, record: ProductRecord) -> Row:
        row: Row = {"id": record.id, "active": record.active, "source": record.source or self.reader.source}
        given = record.model_fields_set
        if "price" in given:
            row["price"] = record.price
        if given & {"title", "description", "title_raw", "description_raw"}:
            text = clean_product_text(record.title, record.description,
                                      max_description_chars=self.max_description_chars)
            title_raw = _capped(record.title_raw or text.title_raw, MAX_RAW_TITLE_CHARS)
            description_raw = _capped(record.description_raw or text.description_raw, MAX_RAW_DESCRIPTION_CHARS)
            row.update(title=text.title, description=text.description, text_hash=text.text_hash,
                       title_raw=title_raw[0], description_raw=description_raw[0])
            self.cleaning.update({
                f"raw titles truncated to {MAX_RAW_TITLE_CHARS} chars": int(title_raw[1]),
                f"raw descriptions truncated to {MAX_RAW_DESCRIPTION_CHARS} chars": int(description_raw[1]),
                "titles changed by cleaning (raw kept)": int(text.title_raw is not None),
                "descriptions changed by cleaning (raw kept)": int(text.description_raw is not None),
                "titles truncated": int(text.title_truncated),
                f"descriptions truncated to {self.max_description_chars} chars": int(text.description_truncated),
            })
        return row

    def quality(self, stages: list[_Stage]) -> DataQuality:
        """The data quality of this ingest's products (from their rows, so titles are the cleaned ones)."""
        rows = next((stage.rows for stage in stages if stage.target is NodeLabel.PRODUCT), [])
        records = self.entries[RecordKind.PRODUCT]
        facts = []
        for row in rows:
            record = records[row["id"]].record
            assert isinstance(record, ProductRecord)
            facts.append({**row, "brand": record.brand_id, "categories": len(record.category_ids)})
        return assess(facts)

    def user_row(self, record: TypedRecord) -> Row:
        assert isinstance(record, UserRecord)
        row: Row = {"id": record.id, "source": record.source or self.reader.source}
        if "name" in record.model_fields_set:
            row["name"] = record.name
        return row

    def edges(
        self, pairs: Iterable[tuple[str, str]], label: NodeLabel, kind: RecordKind, warning: str
    ) -> list[Row]:
        """Edge rows to ``label`` nodes; a pair whose target is neither accepted (as a ``kind`` record) nor
        in the graph is counted under ``warning``, not written."""
        pairs = list(dict.fromkeys(pairs))
        known = self.known_ids(label, kind, {dst for _, dst in pairs})
        self.warnings[warning] += sum(1 for _, dst in pairs if dst not in known)
        return [{"src": src, "dst": dst} for src, dst in pairs if dst in known]

    def product_edges(self, products: list[ProductRecord]) -> list[_Stage]:
        return [
            _Stage(RelType.MADE_BY, RecordKind.PRODUCT, self.edges(
                ((p.id, p.brand_id) for p in products if p.brand_id), NodeLabel.BRAND, RecordKind.BRAND,
                "product brand not found (MADE_BY not created)")),
            _Stage(RelType.IN_CATEGORY, RecordKind.PRODUCT, self.edges(
                ((p.id, c) for p in products for c in p.category_ids), NodeLabel.CATEGORY, RecordKind.CATEGORY,
                "product category not found (IN_CATEGORY not created)")),
        ]

    def interaction_stages(self) -> Iterator[_Stage]:
        by_type: dict[RelType, list[Row]] = {}
        for entry in self.entries[RecordKind.INTERACTION].values():
            r = entry.record
            assert isinstance(r, InteractionRecord)
            row = {"src": r.user_id, "dst": r.product_id, "ts": r.ts, "seq": r.seq, "rating": r.rating,
                   "count": r.count}
            by_type.setdefault(_INTERACTION_TYPES[r.kind], []).append(row)
        for entry in self.entries[RecordKind.LINK].values():
            link = entry.record
            assert isinstance(link, LinkRecord)
            by_type.setdefault(_LINK_TYPES[link.kind], []).append({"src": link.src, "dst": link.dst})
        for rel_type in RelType:  # schema order, so the stages come in a stable order
            if rel_type in by_type:
                kind = RecordKind.INTERACTION if rel_type in _INTERACTION_TYPES.values() else RecordKind.LINK
                yield _Stage(rel_type, kind, by_type[rel_type])

    def load(self, stages: list[_Stage], allow_copy: bool) -> None:
        sizes = {**self.store.count_nodes(), **self.store.count_relationships()}  # labels and types differ
        method: LoadMethod = "merge"
        if allow_copy and bulk.supports_copy(self.store) and all(sizes[s.target.value] == 0 for s in stages):
            method = "copy"
        self.report.load_method = method if stages else "none"
        for stage in stages:
            task = self.progress.add_task(f"{stage.target.value:<16}", total=len(stage.rows))
            started = time.perf_counter()
            written, unchanged = self.write(stage, method, sizes[stage.target.value],
                                            partial(self.progress.advance, task))
            seconds = time.perf_counter() - started
            self.report.stages.append(StageStats(
                target=stage.target.value, kind=stage.kind, method=method, rows=len(stage.rows), written=written,
                unchanged=unchanged, seconds=round(seconds, 3)))
            stats = self.report.kinds[stage.kind]
            stats.load_seconds = round(stats.load_seconds + seconds, 3)
            if isinstance(stage.target, NodeLabel) or stage.kind in _REFERENCING:  # not derived edges
                stats.upserted += written
                stats.unchanged += unchanged
            fault_point("ingest:mid-load")  # crash tests: a kill with part of the graph written

    def write(
        self, stage: _Stage, method: LoadMethod, table_size: int, advance: Callable[[int], None]
    ) -> tuple[int, int]:
        """Write one stage; return (rows written, rows skipped because the graph already holds them)."""
        if method == "copy":
            written = bulk.copy_rows(self.store, stage.target, stage.rows)
            advance(written)
            return written, 0
        rows = delta.changed_rows(self.store, stage.target, stage.rows, table_size)
        unchanged = len(stage.rows) - len(rows)
        advance(unchanged)
        if isinstance(stage.target, NodeLabel):
            return self.store.upsert_nodes(stage.target, rows, on_batch=advance).written, unchanged
        result = self.store.upsert_relationships(stage.target, rows, on_batch=advance)
        if result.missing_endpoints:  # only if the graph changed under us since the reference check
            self.warnings[f"{stage.target.value} rows whose endpoint vanished during the load"] += (
                result.missing_endpoints)
        return result.written, unchanged

    def finish_counts(self) -> None:
        for kind, entries in self.entries.items():
            self.report.kinds[kind].accepted = sum(entry.count for entry in entries.values())
        self.report.quarantine_reasons = dict(self.reasons.most_common())
        self.report.warnings = {k: v for k, v in self.warnings.most_common() if v}
        self.report.cleaning = {k: v for k, v in self.cleaning.most_common() if v}


def _key(record: TypedRecord) -> Any:
    if isinstance(record, InteractionRecord):
        return (record.user_id, record.product_id, record.kind.value)
    if isinstance(record, LinkRecord):
        return (record.src, record.dst, record.kind.value)
    return record.id


def _row(record: TypedRecord, names: tuple[str, ...]) -> Row:
    return {name: getattr(record, name) for name in names}


def _later(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _merge_interactions(first: InteractionRecord, repeat: InteractionRecord) -> InteractionRecord:
    """One edge for repeated interactions of a pair: counts add up; the latest ts / seq / rating win."""
    def order(r: InteractionRecord) -> tuple[int, int]:
        return (-1 if r.ts is None else r.ts, -1 if r.seq is None else r.seq)

    repeat_is_later = order(repeat) >= order(first)
    latest, earliest = (repeat, first) if repeat_is_later else (first, repeat)
    rating = latest.rating if latest.rating is not None else earliest.rating
    return first.model_copy(update={"ts": _later(first.ts, repeat.ts), "seq": _later(first.seq, repeat.seq),
                                    "rating": rating, "count": first.count + repeat.count})


def _unknown_references(record: TypedRecord, products: set[str], users: set[str]) -> Reason | None:
    problems: list[tuple[str, str]] = []
    if isinstance(record, InteractionRecord):
        if record.user_id not in users:
            problems.append(("unknown user id", record.user_id))
        if record.product_id not in products:
            problems.append(("unknown product id", record.product_id))
    elif isinstance(record, LinkRecord):
        problems += [("unknown product id", i) for i in dict.fromkeys((record.src, record.dst)) if i not in products]
    if not problems:
        return None
    key = " and ".join(dict.fromkeys(what for what, _ in problems))
    return Reason(key, "; ".join(f"{what} {value!r}" for what, value in problems))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: an ingest allocates millions of long-lived objects (records,
    rows) and no reference cycles, and the collector's repeated scans of them took half the run time
    (amazon-beauty: 6.3 s -> 2.3 s to validate and de-duplicate). Reference counting still frees memory."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _progress(enabled: bool | None) -> Progress:
    return progress_bars(enabled)


def ingest(
    reader: Reader,
    store: GraphStore,
    *,
    quarantine_path: Path,
    report_path: Path,
    progress: bool | None = None,
    allow_copy: bool = True,
    max_description_chars: int = MAX_DESCRIPTION_CHARS,
) -> IngestReport:
    """Validate, clean, check and load everything ``reader`` yields into ``store`` (see the module docstring).

    Writes the quarantine file (JSONL, one line per bad record: kind, location, reason, record as read) and
    the report (JSON), and returns the report. ``progress``: bars on stderr (None: only on a terminal).
    ``allow_copy=False`` forces the upsert path even into empty tables (to compare both). The schema must
    exist (:meth:`GraphStore.init_schema`).
    """
    started = time.perf_counter()
    report = IngestReport(source=reader.source, started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          quarantine_path=str(quarantine_path), report_path=str(report_path))
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    with (quarantine_path.open("w", encoding="utf-8", errors="backslashreplace") as qf, _progress(progress) as bars,
          _gc_paused()):
        run = _Ingest(reader, store, qf, report, bars, max_description_chars)
        run.read_all()
        read_done = time.perf_counter()
        run.check_references()
        stages = run.stages()
        report.quality = run.quality(stages)
        report.read_seconds = round(read_done - started, 3)
        report.check_seconds = round(time.perf_counter() - read_done, 3)
        run.load(stages, allow_copy)
        report.load_seconds = round(sum(s.seconds for s in report.stages), 3)
    run.finish_counts()
    report.wall_seconds = round(time.perf_counter() - started, 3)
    report.save(report_path)
    problems = report.invariant_violations()
    if problems:  # a bug in this module, never a data problem
        raise RuntimeError(f"ingest bookkeeping is wrong: {'; '.join(problems)}")
    return report


def dump_graph(store: GraphStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every node's properties and every edge (endpoints and properties), sorted: two dumps are equal exactly
    when the graphs are. Used to show that re-running an ingest changes nothing (tests, bench)."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    for label, spec in NODES.items():
        rows = store.query(cb.export_nodes_query(spec))
        dump[label.value] = sorted((tuple(r.values()) for r in rows), key=repr)
    for rel_type, rel in RELATIONSHIPS.items():
        rows = store.query(cb.export_relationships_query(rel))
        dump[rel_type.value] = sorted((tuple(r.values()) for r in rows), key=repr)
    return dump


@dataclass(frozen=True)
class ProductPlan:
    """What an ingest of a source would write for its products, computed without writing anything.

    ``rows``: product id -> the node row (cleaned text, ``text_hash``, ...); ``brands`` / ``categories``:
    product id -> the brand id / category ids, only for records that state them (a record that leaves the
    field out leaves the graph's edges as they are).
    """

    rows: dict[str, Row]
    brands: dict[str, str | None]
    categories: dict[str, tuple[str, ...]]
    sources: frozenset[str]


def plan_products(reader: Reader, store: GraphStore, *,
                  max_description_chars: int = MAX_DESCRIPTION_CHARS) -> ProductPlan:
    """Read and validate ``reader`` as :func:`ingest` would and return its products (see :class:`ProductPlan`).

    Rebuild jobs compare this with the graph before the ingest writes, to know what changed."""
    report = IngestReport(source=reader.source, started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          quarantine_path="", report_path="")
    with io.StringIO() as quarantine, _progress(False) as bars, _gc_paused():
        run = _Ingest(reader, store, quarantine, report, bars, max_description_chars)
        run.read_all()
        products = [e.record for e in run.entries[RecordKind.PRODUCT].values() if isinstance(e.record, ProductRecord)]
        rows = {p.id: run.product_row(p) for p in products}
    return ProductPlan(
        rows=rows,
        brands={p.id: p.brand_id for p in products if "brand_id" in p.model_fields_set},
        categories={p.id: p.category_ids for p in products if "category_ids" in p.model_fields_set},
        sources=frozenset(str(row["source"]) for row in rows.values()),
    )
