"""Reader for Cartograph's own catalog format (specified in ``docs/catalog-format.md``).

A catalog is a folder holding any of ``products``, ``users``, ``events`` and ``links`` as ``.jsonl`` or
``.csv`` (each optionally ``.gz``), or one such file. The reader maps the format's fields onto the typed
record model (brand and category display names become :class:`~kg.ingest.records.BrandRecord` /
:class:`~kg.ingest.records.CategoryRecord` with ids from :func:`~kg.ingest.records.slug`; ``type`` becomes
``kind``; ISO-8601 ``ts`` becomes epoch seconds) and does not validate: the pipeline does, in one place.

Decoding is strict and per line, so one bad line costs one record, not the file: a line that is not UTF-8,
not JSON, not a JSON object, or (CSV) a row with the wrong number of fields is yielded as a broken record
with its ``file:line``. Blank lines are not records.

Unknown keys and columns are schema drift, not bad records: a producer that adds a ``colour`` column should
not get its whole catalog quarantined, and validation (``extra="forbid"``) would do exactly that. They are
dropped and counted in :attr:`notes` (so the ingest report shows them), and the record is read without them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kg.errors import ValidationError
from kg.ingest.readers.base import BaseReader, NameIndex, broken, clean_name, iter_lines, parse_json, record
from kg.ingest.records import RawRecord, RecordKind, slug

#: File stem -> record kind, in reading order (referenced things first).
FILE_KINDS: dict[str, RecordKind] = {
    "products": RecordKind.PRODUCT,
    "users": RecordKind.USER,
    "events": RecordKind.INTERACTION,
    "links": RecordKind.LINK,
}
SUFFIXES = (".jsonl", ".csv", ".jsonl.gz", ".csv.gz")
#: The fields of each file, as the format names them.
FIELDS: dict[RecordKind, frozenset[str]] = {
    RecordKind.PRODUCT: frozenset({"id", "title", "description", "price", "brand", "categories", "active", "source"}),
    RecordKind.USER: frozenset({"id", "name", "source"}),
    RecordKind.INTERACTION: frozenset({"user_id", "product_id", "type", "ts", "seq", "rating", "count"}),
    RecordKind.LINK: frozenset({"src", "dst", "type"}),
}
CSV_LIST_SEPARATOR = "|"


def _kind_of(path: Path) -> RecordKind | None:
    suffix = next((s for s in SUFFIXES if path.name.endswith(s)), None)
    return FILE_KINDS.get(path.name[: -len(suffix)]) if suffix else None


def catalog_files(path: Path) -> list[tuple[Path, RecordKind]]:
    """The catalog files at ``path`` (a folder or one file) with their record kinds, in reading order."""
    if path.is_file():
        kind = _kind_of(path)
        if kind is None:
            raise ValidationError(
                f"{path}: not a Cartograph catalog file; expected products, users, events or links "
                f"ending in {', '.join(SUFFIXES)}"
            )
        return [(path, kind)]
    if not path.is_dir():
        raise ValidationError(f"catalog path {path} does not exist")
    found = [(path / f"{stem}{sfx}", kind) for stem, kind in FILE_KINDS.items() for sfx in SUFFIXES]
    found = [(p, kind) for p, kind in found if p.is_file()]
    if not found:
        raise ValidationError(f"{path}: no catalog files (products, users, events, links as .jsonl or .csv)")
    return found


def epoch_seconds(value: Any) -> Any:
    """ISO-8601 text -> epoch seconds (a time without zone is UTC); anything else is left for validation."""
    if not isinstance(value, str) or value.strip().lstrip("-").isdigit():
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


class CartographReader(BaseReader):
    """Reads a Cartograph catalog (folder or file); see the module docstring.

    Products are read twice: a first pass collects brand and category names (so each becomes one record,
    under the spelling most products use, before the products that point at it), the second maps them.
    """

    source = "cartograph"

    def _read(self) -> Iterator[RawRecord]:
        files = catalog_files(self.path)
        brands, categories = NameIndex(RecordKind.BRAND), NameIndex(RecordKind.CATEGORY)
        for path, kind in files:
            if kind is RecordKind.PRODUCT:
                for raw in self._decoded(path, kind):
                    _index_names(raw, brands, categories)
        self.note("brand spellings merged into another spelling's id (same slug)", brands.merged_spellings)
        self.note("category names merged into another name's id (same slug)", categories.merged_spellings)
        yield from brands.records()
        yield from categories.records()
        for path, kind in files:
            for raw in self._decoded(path, kind):
                yield raw if raw.error else self._mapped(raw, path)

    # -- decoding: bytes -> one dict per record, or a broken record ---------------------------------------
    def _decoded(self, path: Path, kind: RecordKind) -> Iterator[RawRecord]:
        return self._csv(path, kind) if ".csv" in path.suffixes else self._jsonl(path, kind)

    def _jsonl(self, path: Path, kind: RecordKind) -> Iterator[RawRecord]:
        for line in iter_lines(path):
            text = line.text.removeprefix("\ufeff") if line.number == 1 else line.text
            location = f"{path.name}:{line.number}"
            if not text.strip():
                continue
            if line.error:
                yield broken(kind, text, location, line.error)
                continue
            obj, error = parse_json(text)
            if error is not None:
                yield broken(kind, text, location, error)
                continue
            if isinstance(obj, dict):
                yield record(kind, obj, location)
            else:
                yield broken(kind, text, location, f"invalid JSON: expected an object, got {type(obj).__name__}")

    def _csv(self, path: Path, kind: RecordKind) -> Iterator[RawRecord]:
        """CSV rows; a quoted field may span lines, so a row is bad if any of its lines is not UTF-8."""
        row_lines: list[str] = []
        bad_lines: list[str] = []

        def lines() -> Iterator[str]:
            for line in iter_lines(path):
                row_lines.append(line.text)
                if line.error:
                    bad_lines.append(line.error)
                yield (line.text.removeprefix("\ufeff") if line.number == 1 else line.text) + "\n"

        reader = csv.reader(lines(), strict=True)
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            row_lines.clear()
            bad_lines.clear()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield broken(kind, "\n".join(row_lines), f"{path.name}:{start}", f"invalid CSV: {e}")
                continue
            location, raw = f"{path.name}:{start}", "\n".join(row_lines)
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if header is None:
                header = [name.strip() for name in row]
            elif bad_lines:
                yield broken(kind, raw, location, bad_lines[0])
            elif len(row) != len(header):
                yield broken(kind, raw, location, f"invalid CSV: {len(row)} fields, the header has {len(header)}")
            else:
                yield record(kind, _csv_object(kind, header, row), location)

    # -- mapping: the format's fields -> the record model's ----------------------------------------------
    def _mapped(self, raw: RawRecord, path: Path) -> RawRecord:
        what = "column" if ".csv" in path.suffixes else "key"
        for name in sorted(raw.data.keys() - FIELDS[raw.kind]):
            self.note(f"unknown {what} '{name}' in {path.name} (ignored)")
        data = {k: v for k, v in raw.data.items() if k in FIELDS[raw.kind]}
        if "type" in data:
            data["kind"] = data.pop("type")
        if raw.kind is RecordKind.INTERACTION and "ts" in data:
            data["ts"] = epoch_seconds(data["ts"])
        if raw.kind in (RecordKind.PRODUCT, RecordKind.USER):
            data["source"] = data.get("source") or self.source  # an export of another source keeps its name
        if raw.kind is RecordKind.PRODUCT:
            return _map_product_names(data, raw.location)
        return record(raw.kind, data, raw.location)


def _csv_object(kind: RecordKind, header: list[str], row: list[str]) -> dict[str, Any]:
    """A CSV row as the JSONL object it stands for. An empty cell means "not given" (CSV has no null)."""
    obj: dict[str, Any] = {name: cell for name, cell in zip(header, row, strict=True) if cell.strip()}
    if kind is RecordKind.PRODUCT and "categories" in obj:
        obj["categories"] = obj["categories"].split(CSV_LIST_SEPARATOR)
    return obj


def _names(data: dict[str, Any]) -> tuple[str | None, list[str]] | None:
    """The product's brand name and category names, or None when they are not a string / list of strings."""
    brand, categories = data.get("brand"), data.get("categories")
    if brand is not None and not isinstance(brand, str):
        return None
    if categories is not None and not (isinstance(categories, list) and all(isinstance(c, str) for c in categories)):
        return None
    return brand, categories or []


def _index_names(raw: RawRecord, brands: NameIndex, categories: NameIndex) -> None:
    names = None if raw.error else _names(raw.data)
    if names is not None:
        if names[0] is not None:
            brands.add(names[0], raw.location)
        for name in names[1]:
            categories.add(name, raw.location)


def _map_product_names(data: dict[str, Any], location: str) -> RawRecord:
    """brand / categories (display names) -> brand_id / category_ids, the ids :class:`NameIndex` gave."""
    names = _names(data)
    if names is None:
        problem = {k: data.get(k) for k in ("brand", "categories")}
        return broken(RecordKind.PRODUCT, json.dumps(data, default=str), location,
                      f"brand must be a name and categories a list of names, got {problem!r}")
    brand, categories = names
    data.pop("brand", None)
    had_categories = data.pop("categories", None) is not None
    if brand is not None and clean_name(brand):
        data["brand_id"] = slug(clean_name(brand))
    if had_categories:
        data["category_ids"] = [slug(clean_name(c)) for c in categories if clean_name(c)]
    return record(RecordKind.PRODUCT, data, location)
