"""Readers: one class per source format, each turning files into :class:`~kg.ingest.records.RawRecord` s.

``READERS`` maps a format name to its reader class; the classes are imported when first looked up, so this
package works (and ``cartograph ingest --help`` stays fast) even while a reader module is missing or heavy
(rdflib). :func:`detect_format` guesses the format of a path; :func:`open_reader` gives a reader for it.

- ``cartograph``: a folder with products/users/events/links ``.jsonl`` or ``.csv``, or one such file
  (``cartograph.CartographReader``).
- ``amazon-beauty``: a folder with ``s3rec/Beauty.txt`` (``amazon_beauty.AmazonBeautyReader``).
- ``amazon-2018``: a folder with ``meta_<Category>.json[.gz]`` (+ reviews ``<Category>[_5].json[.gz]`` or ratings
  ``<Category>.csv``), any category, or one such meta file (``amazon_reviews.AmazonReviewsReader``).
- ``amazon-2023``: a folder with ``meta_<Category>.jsonl[.gz]`` (+ reviews ``<Category>.jsonl[.gz]``), or one
  such meta file (``amazon_reviews.Amazon2023Reader``).
- ``amazon-index``: a folder with ``<Category>.item.json`` and its ``.valid.csv``/``.test.csv``, any category
  (``amazon_office.AmazonIndexReader``); ``amazon-office`` is its former name, still accepted.
- ``jsonld``: a ``.jsonld`` file, or ``.json`` with ``@context`` (``rdf.JsonLdReader``).
- ``turtle``: a ``.ttl`` file (``rdf.TurtleReader``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from kg.errors import ValidationError
from kg.ingest.readers.base import BaseReader, Reader

__all__ = ["READERS", "BaseReader", "Reader", "detect_format", "open_reader"]

_READER_CLASSES: dict[str, tuple[str, str]] = {
    "cartograph": ("kg.ingest.readers.cartograph", "CartographReader"),
    "amazon-beauty": ("kg.ingest.readers.amazon_beauty", "AmazonBeautyReader"),
    "amazon-2018": ("kg.ingest.readers.amazon_reviews", "AmazonReviewsReader"),
    "amazon-2023": ("kg.ingest.readers.amazon_reviews", "Amazon2023Reader"),
    "amazon-index": ("kg.ingest.readers.amazon_office", "AmazonIndexReader"),
    "amazon-office": ("kg.ingest.readers.amazon_office", "AmazonIndexReader"),
    "jsonld": ("kg.ingest.readers.rdf", "JsonLdReader"),
    "turtle": ("kg.ingest.readers.rdf", "TurtleReader"),
}

CARTOGRAPH_STEMS = ("products", "users", "events", "links")
CARTOGRAPH_SUFFIXES = (".jsonl", ".csv")


class _LazyReaders(Mapping[str, type[Reader]]):
    """Format name -> reader class, imported on first lookup."""

    def __getitem__(self, fmt: str) -> type[Reader]:
        module_name, class_name = _READER_CLASSES[fmt]
        try:
            cls: type[Reader] = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as e:
            raise ValidationError(f"the {fmt!r} reader is not available in this installation: {e}") from e
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_READER_CLASSES)

    def __len__(self) -> int:
        return len(_READER_CLASSES)


READERS: Mapping[str, type[Reader]] = _LazyReaders()


def detect_format(path: Path) -> str:
    """The format name of ``path`` (a dataset folder or a file), or :class:`ValidationError` saying what
    each format looks like."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path} does not exist")
    if path.is_dir():
        if (path / "s3rec" / "Beauty.txt").is_file():
            return "amazon-beauty"
        names = [p.name for p in path.iterdir() if p.is_file()]
        if any(n.startswith("meta_") and n.endswith((".jsonl", ".jsonl.gz")) for n in names):
            return "amazon-2023"
        if any(n.startswith("meta_") and n.endswith((".json", ".json.gz")) for n in names):
            return "amazon-2018"
        if any(n.endswith(".item.json") for n in names):
            return "amazon-index"
        if any((path / f"{stem}{suffix}").is_file() for stem in CARTOGRAPH_STEMS for suffix in CARTOGRAPH_SUFFIXES):
            return "cartograph"
    else:
        suffix = path.suffix.lower()
        if path.name.startswith("meta_") and path.name.endswith((".jsonl", ".jsonl.gz")):
            return "amazon-2023"
        if path.name.startswith("meta_") and path.name.endswith((".json", ".json.gz")):
            return "amazon-2018"
        if suffix == ".ttl":
            return "turtle"
        if suffix == ".jsonld" or (suffix == ".json" and _has_json_ld_context(path)):
            return "jsonld"
        if suffix in (*CARTOGRAPH_SUFFIXES, ".json"):
            return "cartograph"
    raise ValidationError(
        f"cannot tell the format of {path}. Expected one of: a Cartograph catalog folder (products.jsonl, "
        "users.jsonl, events.jsonl, links.jsonl, or .csv) or such a file; an amazon-beauty folder "
        "(s3rec/Beauty.txt, p5/datamaps.json, pgpr/...); an Amazon Reviews 2018 folder or file "
        "(meta_<Category>.json[.gz], reviews <Category>.json[.gz]); an Amazon Reviews 2023 folder or file "
        "(meta_<Category>.jsonl[.gz], reviews <Category>.jsonl[.gz]); an amazon-index folder "
        "(<Category>.item.json and its .valid.csv/.test.csv); a schema.org .jsonld/.json (with @context) or .ttl file. "
        f"Or name the format explicitly: {', '.join(READERS)}"
    )


def _has_json_ld_context(path: Path, peek: int = 65536) -> bool:
    try:
        with path.open("rb") as f:
            return b'"@context"' in f.read(peek)
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e}") from e


def open_reader(path: Path, fmt: str | None = None) -> Reader:
    """A reader for ``path`` in format ``fmt`` (detected when None). Nothing is read until ``read()``."""
    path = Path(path)
    if fmt is None:
        fmt = detect_format(path)
    elif fmt not in READERS:
        raise ValidationError(f"unknown format {fmt!r}; known: {', '.join(READERS)}")
    elif not path.exists():
        raise ValidationError(f"{path} does not exist")
    return READERS[fmt](path)
