"""Amazon 2018 per-category index files (5-core subsets, as MiniOneRec ships them), for any category.

A folder holds ``<Category>.item.json`` and ``<Category>.valid.csv`` / ``.test.csv``; the category is taken
from the file name (``Office_Products``, ``Industrial_and_Scientific``, ...), never fixed here.
``<Category>.item.json`` holds id -> title, raw description (a JSON-ish list string with HTML and CSS
fragments, passed on as found: the pipeline cleans it), brand and (always empty) categories. There are no
train rows: what there is of user histories is in ``Office_Products.valid.csv`` and ``.test.csv``, several
rows per user, each a window ``history_item_id`` (the last <= 10 items, in order) + ``item_id`` (the next
one). Windows of one user overlap, so the reader stitches them back into the longest sequence they agree on.

Item and user ids of this dataset are small integers and short codes that collide with other catalogs, so
both are prefixed with the category's slug: product ``industrial-and-scientific:<item id>``, user
``industrial-and-scientific:<user id>``, source ``amazon-industrial-and-scientific``. Office_Products keeps the
names it had before this reader was generic (``office:<id>``, source ``amazon-office``), so graphs and the
shipped sample built from it stay valid.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import ValidationError
from kg.ingest.readers.base import (
    MAX_RAW_CHARS,
    BaseReader,
    NameIndex,
    broken,
    iter_lines,
    read_text,
    record,
    require_files,
    sequence_interactions,
)
from kg.ingest.records import RawRecord, RecordKind, slug

ITEMS_SUFFIX = ".item.json"
SPLIT_SUFFIXES = (".valid.csv", ".test.csv")
"""In time order: a test window ends one item after the valid window of the same user."""
LEGACY_NAMES = {"Office_Products": ("amazon-office", "office:")}
"""Category -> (source, id prefix) of the categories read before the reader was generic."""
CSV_COLUMNS = ("user_id", "history_item_id", "item_id")


@dataclass(frozen=True)
class _Window:
    history: tuple[str, ...]
    target: str
    location: str
    split: str


@dataclass
class _Sequence:
    """A user's history as far as the windows tell it, with where each position was read."""

    items: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def absorb(self, window: _Window) -> bool:
        """Add what ``window`` says; False (nothing changed) when it contradicts the sequence."""
        full = [*window.history, window.target]
        if not self.items:
            self.items, self.origins = full, [window.location] * len(full)
            return True
        if _contains(self.items, full):
            return True
        history, k = window.history, min(len(window.history), len(self.items))
        if k == 0 or list(history[-k:]) != self.items[-k:]:
            return False
        extra = len(history) - k  # the window starts earlier than what we knew
        self.items = [*history[:extra], *self.items, window.target]
        self.origins = [window.location] * extra + self.origins + [window.location]
        return True


def _contains(sequence: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(sequence[i : i + n] == part for i in range(len(sequence) - n + 1))


def index_category(folder: Path) -> str | None:
    """``<Category>`` of the first ``<Category>.item.json`` in ``folder`` (by name), or None."""
    if not folder.is_dir():
        return None
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(ITEMS_SUFFIX) and p.is_file())
    return names[0][: -len(ITEMS_SUFFIX)] if names else None


def category_names(category: str) -> tuple[str, str]:
    """(source, id prefix) of a category's records."""
    key = slug(category)
    return LEGACY_NAMES.get(category, (f"amazon-{key}", f"{key}:"))


class AmazonIndexReader(BaseReader):
    """Reads a per-category index folder: products with raw descriptions and brands, users and their
    purchase sequences (``seq`` = position; no timestamps, no prices)."""

    source = "amazon-index"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.category = index_category(self.path) or "Office_Products"
        self.source, self.prefix = category_names(self.category)  # type: ignore[misc]

    @property
    def items_file(self) -> str:
        return f"{self.category}{ITEMS_SUFFIX}"

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(f"{self.category}{suffix}" for suffix in SPLIT_SUFFIXES)

    def _read(self) -> Iterator[RawRecord]:
        if index_category(self.path) is None and self.path.is_dir():
            raise ValidationError(f"{self.path} is not a complete index dataset: missing <Category>{ITEMS_SUFFIX} "
                                  f"(e.g. {self.items_file}); the folder should contain <Category>{ITEMS_SUFFIX} "
                                  "and optionally <Category>.valid.csv / .test.csv")
        require_files(self.path, {self.items_file: "item id -> title, description, brand, categories"}, self.source)
        brands, categories = NameIndex(RecordKind.BRAND), NameIndex(RecordKind.CATEGORY)
        products = yield from self._read_items(brands, categories)
        self.note("brand spellings merged into another spelling's id (same slug)", brands.merged_spellings)
        yield from brands.records()
        yield from categories.records()
        yield from products
        windows = yield from self._read_windows()
        yield from self._histories(windows, {r.data["id"] for r in products})

    # -- catalog -----------------------------------------------------------------------------------------
    def _read_items(
        self, brands: NameIndex, categories: NameIndex
    ) -> Generator[RawRecord, None, list[RawRecord]]:
        """Product records (returned, so that brand records can go first); broken items are yielded."""
        products: list[RawRecord] = []
        for key, item, error in self._item_entries():
            location = f"{self.items_file}#{key}"
            if error is not None or not isinstance(item, dict):
                raw = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
                yield broken(RecordKind.PRODUCT, raw, location, error or "item is not a JSON object")
                continue
            brand = item.get("brand")
            brand_id = brands.add(brand, location) if isinstance(brand, str) else None
            if brand_id is None:
                self.note("products without a brand")
            category_ids = [categories.add(name, location) for name in _category_names(item.get("categories"))]
            products.append(record(
                RecordKind.PRODUCT,
                {"id": f"{self.prefix}{key}", "title": item.get("title"), "description": item.get("description"),
                 "price": None, "brand_id": brand_id, "category_ids": [c for c in category_ids if c],
                 "source": self.source},
                location,
            ))
        return products

    def _item_entries(self) -> Iterator[tuple[str, Any, str | None]]:
        """(item id, item, error) for every entry of the item file.

        The file is one JSON object. When it does not parse as a whole (truncated, one bad escape), entries
        are recovered one by one from its one-entry-per-block layout, so one bad item costs one item.
        """
        path = self.path / self.items_file
        text = read_text(path)  # one JSON object: these index files are small (a 5-core subset)
        try:
            items = json.loads(text)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, too many digits, too deep
            self.note(f"{self.items_file} is not valid JSON; items recovered one by one")
            yield from _recover_entries(text, path, e)
            return
        if not isinstance(items, dict):
            raise ValidationError(f"{path}: expected a JSON object of item id -> item, got {type(items).__name__}")
        for key, item in items.items():
            yield key, item, None

    # -- histories -----------------------------------------------------------------------------------------
    def _read_windows(self) -> Generator[RawRecord, None, dict[str, list[_Window]]]:
        """Every readable window per user (valid split first, then test, each in file order)."""
        windows: dict[str, list[_Window]] = {}
        for split in self.splits:
            path = self.path / split
            if not path.is_file():
                self.note(f"optional file missing: {split}")
                continue
            for line, row, raw, csv_error in _csv_rows(path):
                location = f"{split}:{line}"
                if csv_error:
                    yield broken(RecordKind.INTERACTION, raw, location, csv_error)
                    continue
                try:
                    user, window = _parse_window(row, location, split)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
                    yield broken(RecordKind.INTERACTION, raw, location, f"unreadable row: {e}")
                    continue
                windows.setdefault(user, []).append(window)
        return windows

    def _histories(self, windows: dict[str, list[_Window]], products: set[str]) -> Iterator[RawRecord]:
        """Users, then their purchases, from the stitched sequences."""
        sequences = {user: self._stitch(user_windows) for user, user_windows in windows.items()}
        for user, user_windows in windows.items():
            yield record(RecordKind.USER, {"id": f"{self.prefix}{user}", "name": None, "source": self.source},
                         user_windows[0].location)
        for user, sequence in sequences.items():
            ids = [f"{self.prefix}{item}" for item in sequence.items]
            self.note("interactions with items not in the item file", sum(i not in products for i in ids))
            interactions, repeats = sequence_interactions(f"{self.prefix}{user}", ids, sequence.origins)
            self.note("repeated purchases merged into one interaction (count > 1)", repeats)
            yield from interactions

    def _stitch(self, windows: list[_Window]) -> _Sequence:
        """The longest sequence the windows agree on. When valid and test windows disagree, the test ones
        win (they are the later, longer view); a window contradicting its own split is skipped."""
        sequence, rejected = _chain(windows)
        if not rejected:
            return sequence
        test_split = self.splits[1]
        test = [w for w in windows if w.split == test_split]
        test_sequence, test_rejected = _chain(test)
        if test and any(w.split == test_split for w in rejected):
            self.note("users whose valid and test windows disagree (test windows kept)")
            sequence, rejected = test_sequence, test_rejected
        self.note("windows contradicting the user's other windows (skipped)", len(rejected))
        return sequence


AmazonOfficeReader = AmazonIndexReader
"""The name this reader had when it read Office_Products only."""


def _chain(windows: list[_Window]) -> tuple[_Sequence, list[_Window]]:
    sequence = _Sequence()
    rejected = [w for w in windows if not sequence.absorb(w)]
    return sequence, rejected


def _parse_window(row: dict[str, str], location: str, split: str) -> tuple[str, _Window]:
    missing = [c for c in CSV_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    user = row["user_id"].strip()
    history = ast.literal_eval(row["history_item_id"].strip())
    target = row["item_id"].strip()
    if not user or not target:
        raise ValueError("empty user_id or item_id")
    if not isinstance(history, list | tuple) or not all(isinstance(i, int | str) for i in history):
        raise TypeError(f"history_item_id is not a list of item ids: {row['history_item_id'][:80]!r}")
    return user, _Window(tuple(str(i).strip() for i in history), target, location, split)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str], str, str | None]]:
    """(first line number, row by column, raw text, error) of each CSV row; a row the csv module rejects
    comes back with its error so that the caller reports it, and reading goes on."""
    line_errors: list[str] = []

    def lines() -> Iterator[str]:  # bounded lines (iter_lines), so that one huge line is one bad row
        for line in iter_lines(path):
            if line.error:
                line_errors.append(line.error)
            yield line.text + "\n"

    reader = csv.reader(lines())
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise ValidationError(f"{path}: unreadable CSV header: {e}") from e
    missing = [c for c in CSV_COLUMNS if c not in (header or [])]
    if missing or line_errors:
        raise ValidationError(f"{path}: missing column(s) {missing}; expected a header with {list(CSV_COLUMNS)}")
    while True:
        start = reader.line_num + 1
        line_errors.clear()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, {}, "", f"invalid CSV: {e}"
            continue
        if line_errors:
            yield start, {}, _to_csv(fields)[:MAX_RAW_CHARS], line_errors[0]
        elif any(fields):
            yield start, dict(zip(header or [], fields, strict=False)), _to_csv(fields), None


def _to_csv(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(fields)
    return out.getvalue().rstrip("\r\n")


def _category_names(value: Any) -> list[str]:
    """Category names from a list, a python-literal list string, or one name ('' = none)."""
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    if not isinstance(value, str) or not value.strip():
        return []
    if value.lstrip().startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return [value]
        return _category_names(parsed) if isinstance(parsed, list) else [value]
    return [value]


def _unquote(key: str) -> str:
    try:
        return str(json.loads(f'"{key}"'))
    except json.JSONDecodeError:
        return key


_ENTRY = re.compile(r'^( *)"((?:[^"\\]|\\.)*)"\s*:\s*\{', re.MULTILINE)


def _recover_entries(text: str, path: Path, cause: Exception) -> Iterator[tuple[str, Any, str | None]]:
    """Entries of a damaged ``{"id": {...}, ...}`` file: each entry starts a line at the first entry's indent."""
    starts = list(_ENTRY.finditer(text))
    if not starts:
        raise ValidationError(f"{path}: not valid JSON ({cause}) and no item entries found to recover") from cause
    indent = starts[0].group(1)
    starts = [m for m in starts if m.group(1) == indent]
    decoder = json.JSONDecoder()
    for m, following in zip(starts, [*starts[1:], None], strict=True):
        chunk = text[m.end() - 1 : following.start() if following else len(text)]
        key = _unquote(m.group(2))
        try:
            item, _ = decoder.raw_decode(chunk)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, too many digits, too deep
            yield key, chunk.strip()[:MAX_RAW_CHARS], f"item is not valid JSON: {str(e)[:200] or type(e).__name__}"
            continue
        yield key, item, None
