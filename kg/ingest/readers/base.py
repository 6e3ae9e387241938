"""What every reader shares: the reader contract, a gzip-aware line reader, broken-record helpers, the
brand/category name index and the sequence-to-interactions rule.

Readers turn one source layout into :class:`~kg.ingest.records.RawRecord` s and nothing more: they do not
validate (the pipeline does, once, for every source) and they do not clean text (the pipeline keeps the raw
text beside the cleaned one). A reader never raises for one bad record: it yields a record with ``error`` set
and goes on, so that ``accepted + quarantined == read`` holds. It raises
:class:`~kg.errors.ValidationError` only when the whole source is unusable (a required file is missing or
cannot be decoded at all).

Records come in dependency order (brands, categories, products, users, interactions, links) so that a
streaming loader can write nodes before the edges that point at them.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from kg.errors import ValidationError
from kg.ingest.records import RawRecord, RecordKind, slug

MAX_RAW_CHARS = 2000
"""A broken record keeps at most this much of its text: enough to find and fix it, not a second copy."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest line a reader takes (bytes, end of line excluded). A longer one is a broken record with this
reason, its first bytes kept, the rest skipped without being held: a 2 GB single-line file costs about this
much memory, not 2 GB. The longest lines of the supported dumps (Amazon 2018 meta) are well under 1 MB."""
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
"""The largest file read whole (a JSON document such as ``datamaps.json``, ``<Category>.item.json``, JSON-LD):
past it the source is refused with :class:`ValidationError` naming the limit."""


@runtime_checkable
class Reader(Protocol):
    """The contract between a source format and the ingest pipeline."""

    source: ClassVar[str]
    notes: dict[str, int]

    def __init__(self, path: Path) -> None: ...

    def read(self) -> Iterator[RawRecord]: ...


class BaseReader(ABC):
    """Common state of the readers here: the input path (no I/O in the constructor) and ``notes``.

    ``notes`` counts what the ingest report should state that is not a record (links to products outside the
    catalog, merged spellings, ...). It is reset at the start of every :meth:`read` and complete once the
    iterator is exhausted.
    """

    source: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.notes: dict[str, int] = {}

    def read(self) -> Iterator[RawRecord]:
        self.notes = {}
        yield from self._read()

    @abstractmethod
    def _read(self) -> Iterator[RawRecord]:
        """The records of the source, in dependency order."""

    def note(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the note ``what`` (zero adds nothing, so notes only list what happened)."""
        if n:
            self.notes[what] = self.notes.get(what, 0) + n


def record(kind: RecordKind, data: dict[str, Any], location: str) -> RawRecord:
    return RawRecord(kind=kind, data=data, location=location)


def broken(kind: RecordKind, raw: str, location: str, reason: str) -> RawRecord:
    """A record that could not be parsed: its text (truncated) and the specific reason."""
    return RawRecord(kind=kind, data={"raw": raw[:MAX_RAW_CHARS]}, location=location, error=reason)


def parse_json(text: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, reason)`` for text that is not JSON the parser can take.

    Not only :class:`json.JSONDecodeError`: deep nesting raises :class:`RecursionError`, a number of more than
    4,300 digits :class:`ValueError` (Python's int limit), a huge document :class:`MemoryError`; each is one
    bad record, never the end of the ingest."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e.msg} (column {e.colno})"
    except RecursionError:
        return None, "invalid JSON: nested too deeply to parse"
    except ValueError as e:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        return None, f"invalid JSON: {str(e)[:200]}"
    except MemoryError:
        return None, "invalid JSON: too large to parse"


# -- files ---------------------------------------------------------------------------------------------


class Line(NamedTuple):
    number: int
    """1-based line number."""
    text: str
    """The line without its end-of-line characters; undecodable bytes replaced by U+FFFD."""
    error: str | None
    """Set when the line is not valid UTF-8."""


def iter_lines(path: Path, max_bytes: int | None = None) -> Iterator[Line]:
    """Every line of a text file, gzip-compressed when its name ends in ``.gz``, blank lines included
    (several PGPR files are aligned by line number, so a blank line is data).

    Lines are decoded one by one so that one bad byte spoils one record, not the file. A line longer than
    ``max_bytes`` (default :data:`MAX_LINE_BYTES`) comes back with ``error`` set and only its first bytes; the
    rest is skipped in chunks, never held. A file that cannot be opened or decompressed at all raises
    :class:`ValidationError` naming it.
    """
    limit = MAX_LINE_BYTES if max_bytes is None else max_bytes
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            number = 0
            while raw := f.readline(limit + 1):
                number += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    yield _too_long(f, number, raw, limit)
                    continue
                raw = raw.rstrip(b"\r\n")
                try:
                    yield Line(number, raw.decode("utf-8"), None)
                except UnicodeDecodeError as e:
                    yield Line(number, raw.decode("utf-8", errors="replace"), f"not valid UTF-8: {e.reason}")
    except (OSError, EOFError, zlib.error) as e:
        raise ValidationError(f"cannot read {path}: {e}") from e


def _too_long(f: Any, number: int, head: bytes, limit: int) -> Line:
    """The :class:`Line` for an over-long line, after skipping the rest of it."""
    rest, skipped = head, len(head)
    while rest and not rest.endswith(b"\n"):
        rest = f.readline(1 << 20)
        skipped += len(rest)
    text = head[: MAX_RAW_CHARS * 4].decode("utf-8", errors="replace")[:MAX_RAW_CHARS]
    return Line(number, text, f"line too long: {skipped} bytes, the limit is {limit} (line skipped)")


def read_text(path: Path) -> str:
    """A whole UTF-8 file (bad bytes replaced), or :class:`ValidationError` naming it (unreadable, or larger
    than :data:`MAX_DOCUMENT_BYTES`)."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise ValidationError(f"{path} is {size} bytes: a file read whole may hold at most "
                                  f"{MAX_DOCUMENT_BYTES} (split it, or use a line-per-record format)")
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e}") from e


def require_files(root: Path, required: Mapping[str, str], layout: str) -> None:
    """Raise :class:`ValidationError` unless ``root`` holds every ``required`` file (relative path -> what it
    holds), saying which is missing and what the folder should contain."""
    if not root.is_dir():
        raise ValidationError(f"{root} is not a folder; a {layout} dataset is a folder holding "
                              + ", ".join(required))
    missing = [name for name in required if not (root / name).is_file()]
    if missing:
        expected = "; ".join(f"{name} ({what})" for name, what in required.items())
        raise ValidationError(f"{root} is not a complete {layout} dataset: missing {', '.join(missing)}. "
                              f"The folder should contain: {expected}")


# -- names -----------------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def clean_name(name: str) -> str:
    """A brand or category display name as the source meant it: HTML entities decoded (marketplace dumps
    hold ``L&#39;Oreal`` and even double-escaped ``Kirk&amp;#39;s``), whitespace collapsed.

    This is decoding, not text cleaning: names become ids through :func:`slug`, and ``L&#39;Oreal`` would
    otherwise become ``l-39-oreal``.
    """
    for _ in range(3):
        unescaped = html.unescape(name)
        if unescaped == name:
            break
        name = unescaped
    return _SPACES.sub(" ", name).strip()


class NameIndex:
    """Brand or category names by id (``slug(name)``).

    Several spellings of one name (``REDKEN``/``Redken``) share an id and so become one node; its display
    name is the spelling most products use (ties: the first seen). Emitting one record per id, instead of one
    per spelling, keeps "records read" equal to what the graph will hold.
    """

    def __init__(self, kind: RecordKind) -> None:
        self.kind = kind
        self._spellings: dict[str, Counter[str]] = {}
        self._locations: dict[str, str] = {}

    def add(self, name: str, location: str, uses: int = 1) -> str | None:
        """Register ``uses`` uses of ``name``; return its id, or None for an empty name."""
        name = clean_name(name)
        if not name:
            return None
        key = slug(name)
        self._spellings.setdefault(key, Counter())[name] += uses
        self._locations.setdefault(key, location)
        return key

    def __len__(self) -> int:
        return len(self._spellings)

    @property
    def merged_spellings(self) -> int:
        """How many spellings were folded into another one's id."""
        return sum(len(spellings) - 1 for spellings in self._spellings.values())

    def display_name(self, key: str) -> str:
        return self._spellings[key].most_common(1)[0][0]

    def records(self) -> Iterator[RawRecord]:
        for key in self._spellings:
            data: dict[str, Any] = {"id": key, "name": self.display_name(key)}
            if self.kind is RecordKind.CATEGORY:
                data["parent_id"] = None  # no source here gives a hierarchy we can trust
            yield record(self.kind, data, self._locations[key])


# -- interactions ----------------------------------------------------------------------------------------


def sequence_interactions(
    user_id: str, product_ids: Sequence[str | None], locations: Sequence[str]
) -> tuple[list[RawRecord], int]:
    """Purchase interactions for one user's ordered history; returns them and the number of repeats merged.

    ``seq`` is the position in the history (0-based; a ``None`` entry, an unreadable item, keeps its position
    so the order stays true). The graph holds one edge per (user, product), so an item bought k times becomes
    one interaction with ``count=k`` and ``seq`` = its last position: the most recent purchase is the one a
    leave-one-out split must see. ``locations[i]`` says where position i was read.
    """
    last: dict[str, int] = {}
    counts: Counter[str] = Counter()
    for position, product_id in enumerate(product_ids):
        if product_id is not None:
            last[product_id] = position
            counts[product_id] += 1
    records = [
        record(
            RecordKind.INTERACTION,
            {"user_id": user_id, "product_id": product_id, "kind": "purchase", "ts": None, "seq": position,
             "count": counts[product_id]},
            locations[position],
        )
        for product_id, position in sorted(last.items(), key=lambda item: item[1])
    ]
    return records, sum(counts.values()) - len(counts)
