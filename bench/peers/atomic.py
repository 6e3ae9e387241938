"""RecBole atomic files: read and write.

An atomic file (``<dataset>.inter``, ``.item``, ``.kg``, ``.link``, ...) is tab-separated text whose first line
names each column as ``field:type`` (``user_id:token``, ``timestamp:float``, ``class:token_seq``). Values are
strings; a ``token`` must not hold a tab or a newline (RecBole splits on them), a ``token_seq`` is
space-separated. See https://recbole.io/docs/user_guide/data/atomic_files.html.

Used from both virtual environments (the main one and RecBole's), so it imports nothing beyond the standard
library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path


class AtomicFormatError(ValueError):
    """An atomic file is malformed, or a value cannot be written into one."""


def _check_value(value: str, column: str) -> str:
    if "\t" in value or "\n" in value or "\r" in value:
        raise AtomicFormatError(f"value {value!r} of column {column!r} holds a tab or a line break")
    return value


def write_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write ``rows`` under ``header`` (``["user_id:token", ...]``); returns the number of rows written."""
    for column in header:
        name, sep, kind = column.partition(":")
        if not name or not sep or kind not in ("token", "token_seq", "float", "float_seq"):
            raise AtomicFormatError(f"column {column!r} is not 'name:type' with a RecBole type")
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            if len(row) != len(header):
                raise AtomicFormatError(f"{path.name}: row {n + 1} has {len(row)} values for {len(header)} columns")
            f.write("\t".join(_check_value(str(v), c) for v, c in zip(row, header, strict=True)) + "\n")
            n += 1
    return n


def read_atomic(path: Path) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of an atomic file; every row has as many values as the header has columns."""
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines:
        raise AtomicFormatError(f"{path} is empty: an atomic file starts with a 'field:type' header line")
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("\t")
        if len(values) != len(header):
            raise AtomicFormatError(f"{path}:{number}: {len(values)} values for {len(header)} columns")
        rows.append(values)
    return header, rows


def column(header: Sequence[str], rows: Sequence[Sequence[str]], name: str) -> list[str]:
    """The values of the column called ``name`` (whatever its type)."""
    names = [h.split(":", 1)[0] for h in header]
    if name not in names:
        raise AtomicFormatError(f"no column {name!r} among {', '.join(header)}")
    i = names.index(name)
    return [row[i] for row in rows]
