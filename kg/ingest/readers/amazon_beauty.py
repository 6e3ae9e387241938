"""Amazon Beauty 5-core (2014 crawl) as several research repositories ship it, joined back into one graph.

No single file holds the dataset: the interactions are S3-Rec's ``Beauty.txt`` (P5's ``sequential_data.txt``
is identical), the ids map to Amazon ids through P5's ``datamaps.json``, the only text is IDGenRec's title
fragments, and brands, categories and co-purchase lists come from PGPR's index files, aligned by line number
with ``pgpr/product.txt.gz``. See ``../shared/data/README.md``.

Product ids are ASINs, user ids Amazon reviewer ids, so they can be joined with any other copy of the data.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import ValidationError
from kg.ingest.readers.base import (
    BaseReader,
    Line,
    NameIndex,
    broken,
    iter_lines,
    read_text,
    record,
    require_files,
    sequence_interactions,
)
from kg.ingest.records import RawRecord, RecordKind

DATAMAPS = "p5/datamaps.json"
SEQUENCES = "s3rec/Beauty.txt"
TITLES = "idgenrec/item_generative_indexing_phase_0.txt"
PGPR = "pgpr"
LINK_FILES = {
    "also_bought": "also_bought_p_p.txt.gz",
    "also_viewed": "also_viewed_p_p.txt.gz",
    "bought_together": "bought_together_p_p.txt.gz",
}
PGPR_FILES = ("product.txt.gz", "brand.txt.gz", "brand_p_b.txt.gz", "category.txt.gz", "category_p_c.txt.gz",
              "related_product.txt.gz", *LINK_FILES.values())

REQUIRED = {
    DATAMAPS: "P5 id maps: id2user, id2item",
    SEQUENCES: "S3-Rec user sequences: 'user item item ...' in time order",
}


@dataclass
class _Pgpr:
    """PGPR's product index (line i = ASIN of product i) and what it says about each catalog product."""

    asins: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    """related_product.txt.gz: line i = ASIN of related index i (the co-purchase lists index into it)."""
    link_files: dict[str, Path] = field(default_factory=dict)
    brand_of: dict[str, str] = field(default_factory=dict)
    categories_of: dict[str, list[str]] = field(default_factory=dict)


class AmazonBeautyReader(BaseReader):
    """Reads the ``amazon-beauty`` folder: products (ASIN, title fragment, brand, categories), users,
    purchase sequences (``seq`` = position, no timestamps) and co-purchase links inside the catalog."""

    source = "amazon-beauty"

    def _read(self) -> Iterator[RawRecord]:
        require_files(self.path, REQUIRED, self.source)
        users, items = self._load_datamaps()
        catalog = set(items.values())
        titles = yield from self._read_titles(catalog)
        brands, categories = NameIndex(RecordKind.BRAND), NameIndex(RecordKind.CATEGORY)
        pgpr = yield from self._read_pgpr(catalog, brands, categories)
        self.note("brand spellings merged into another spelling's id (same slug)", brands.merged_spellings)
        self.note("category names merged into another name's id (same slug)", categories.merged_spellings)
        yield from brands.records()
        yield from categories.records()
        yield from self._products(items, titles, pgpr)
        for reviewer in users.values():
            yield record(RecordKind.USER, {"id": reviewer, "name": None, "source": self.source},
                         f"datamaps.json#{reviewer}")
        yield from self._read_sequences(users, items)
        for kind, path in pgpr.link_files.items():
            yield from self._read_links(kind, path, pgpr, catalog)

    def _file(self, relative: str) -> Path | None:
        """An optional file, or None (noted) when the folder lacks it."""
        path = self.path / relative
        if path.is_file():
            return path
        self.note(f"optional file missing: {relative}")
        return None

    def _load_datamaps(self) -> tuple[dict[str, str], dict[str, str]]:
        """``id2user`` and ``id2item`` ordered by numeric id (dataset order)."""
        path = self.path / DATAMAPS
        try:
            maps = json.loads(read_text(path))
            users, items = maps["id2user"], maps["id2item"]
            if not isinstance(users, dict) or not isinstance(items, dict):
                raise TypeError("id2user and id2item must be JSON objects")
        except (ValueError, KeyError, TypeError, RecursionError, MemoryError) as e:
            raise ValidationError(f"{path}: not a P5 datamaps file ({type(e).__name__}: {str(e)[:200]})") from e

        def by_id(mapping: dict[str, Any]) -> dict[str, str]:
            return {k: str(v) for k, v in sorted(mapping.items(), key=lambda kv: (len(kv[0]), kv[0]))}

        return by_id(users), by_id(items)

    def _read_titles(self, catalog: set[str]) -> Generator[RawRecord, None, dict[str, str | None]]:
        """ASIN -> title fragment (the dataset's only text); returns the dict."""
        titles: dict[str, str | None] = {}
        path = self._file(TITLES)
        for line in iter_lines(path) if path else ():
            if line.error:
                yield broken(RecordKind.PRODUCT, line.text, _loc(path, line), line.error)
                continue
            asin, _, title = line.text.strip().partition(" ")
            if not asin:
                continue
            if asin not in catalog:
                self.note("titles of products outside the catalog (ignored)")
                continue
            titles[asin] = title.strip() or None
        titled = sum(1 for title in titles.values() if title)
        self.note("catalog products without a title (none or empty)", len(catalog) - titled)
        return titles

    def _read_pgpr(
        self, catalog: set[str], brands: NameIndex, categories: NameIndex
    ) -> Generator[RawRecord, None, _Pgpr]:
        """Brands and categories of each catalog product from PGPR's line-aligned files; returns :class:`_Pgpr`."""
        pgpr = _Pgpr()
        paths = {name: self._file(f"{PGPR}/{name}") for name in PGPR_FILES}
        if paths["product.txt.gz"] is None:
            return pgpr
        pgpr.asins = [line.text.strip() for line in iter_lines(paths["product.txt.gz"])]
        self.note("PGPR products not in datamaps.json (ignored)", len(set(pgpr.asins) - catalog))
        brand_names = _names(paths["brand.txt.gz"])
        category_names = _names(paths["category.txt.gz"])
        for i, name in enumerate(category_names):  # every category is a node, used or not
            categories.add(name, f"category.txt.gz:{i + 1}", uses=0)
        # An index file is only meaningful with the name table it indexes.
        brand_index = paths["brand_p_b.txt.gz"] if brand_names else None
        category_index = paths["category_p_c.txt.gz"] if category_names else None
        for asin, line, location, indexes in self._aligned(brand_index, pgpr.asins, catalog):
            yield from _bad_indexes(indexes, brand_names, line, location, "brand.txt.gz")
            for index in _good_indexes(indexes, brand_names):
                brand_id = brands.add(brand_names[index], location)
                if brand_id is None:
                    self.note("products whose brand name is empty (no brand)")
                else:
                    pgpr.brand_of[asin] = brand_id
        for asin, line, location, indexes in self._aligned(category_index, pgpr.asins, catalog):
            yield from _bad_indexes(indexes, category_names, line, location, "category.txt.gz")
            ids = [categories.add(category_names[i], location) for i in _good_indexes(indexes, category_names)]
            pgpr.categories_of[asin] = list(dict.fromkeys(i for i in ids if i))
        if paths["related_product.txt.gz"] is not None:
            pgpr.related = [line.text.strip() for line in iter_lines(paths["related_product.txt.gz"])]
            pgpr.link_files = {kind: path for kind, name in LINK_FILES.items() if (path := paths[name])}
        return pgpr

    def _aligned(
        self, path: Path | None, asins: list[str], catalog: set[str]
    ) -> Iterator[tuple[str, Line, str, list[str]]]:
        """(ASIN, line, location, tokens) of a file whose line i is about PGPR product i, catalog only.
        A line with bad bytes has no tokens (the caller reports it as broken)."""
        for line in iter_lines(path) if path else ():
            if line.number > len(asins):
                self.note(f"{path.name if path else ''}: lines beyond pgpr/product.txt.gz (ignored)")
            elif asins[line.number - 1] in catalog:
                yield asins[line.number - 1], line, _loc(path, line), [] if line.error else line.text.split()

    def _products(self, items: dict[str, str], titles: dict[str, str | None], pgpr: _Pgpr) -> Iterator[RawRecord]:
        for asin in items.values():
            yield record(
                RecordKind.PRODUCT,
                {"id": asin, "title": titles.get(asin), "description": None, "price": None,
                 "brand_id": pgpr.brand_of.get(asin), "category_ids": pgpr.categories_of.get(asin, []),
                 "source": self.source},
                f"datamaps.json#{asin}",
            )

    def _read_sequences(self, users: dict[str, str], items: dict[str, str]) -> Iterator[RawRecord]:
        """One line per user, ``user item item ...`` in time order -> purchases with ``seq`` positions."""
        path = self.path / SEQUENCES
        seen: set[str] = set()
        for line in iter_lines(path):
            location = _loc(path, line)
            tokens = line.text.split()
            if line.error or not tokens:
                if line.error:
                    yield broken(RecordKind.INTERACTION, line.text, location, line.error)
                continue
            reviewer = users.get(tokens[0])
            if reviewer is None:
                yield broken(RecordKind.INTERACTION, line.text, location,
                             f"user id {tokens[0]!r} is not in datamaps.json id2user")
                continue
            if reviewer in seen:
                self.note("users with more than one sequence line (kept both)")
            seen.add(reviewer)
            history = [items.get(t) for t in tokens[1:]]
            unknown = [t for t, asin in zip(tokens[1:], history, strict=True) if asin is None]
            if unknown:
                yield broken(RecordKind.INTERACTION, line.text, location,
                             f"item ids not in datamaps.json id2item: {unknown[:5]}")
            interactions, repeats = sequence_interactions(reviewer, history, [location] * len(history))
            self.note("repeated purchases merged into one interaction (count > 1)", repeats)
            yield from interactions
        self.note("users in datamaps.json without a sequence", len(set(users.values()) - seen))

    def _read_links(self, kind: str, path: Path, pgpr: _Pgpr, catalog: set[str]) -> Iterator[RawRecord]:
        """Co-purchase lists: line i = indexes into related_product.txt.gz for PGPR product i. Only links
        between catalog products are records; the others are counted in :attr:`notes`."""
        related = pgpr.related
        for src, line, location, indexes in self._aligned(path, pgpr.asins, catalog):
            yield from _bad_indexes(indexes, related, line, location, "related_product.txt.gz", RecordKind.LINK)
            targets: set[str] = set()
            for dst in (related[i] for i in _good_indexes(indexes, related)):
                if dst == src:
                    self.note(f"{kind} self-links (skipped)")
                elif dst not in catalog:
                    self.note(f"{kind} links to products outside the catalog (not loaded)")
                elif dst in targets:
                    self.note(f"{kind} duplicate links (skipped)")
                else:
                    targets.add(dst)
                    yield record(RecordKind.LINK, {"src": src, "dst": dst, "kind": kind}, location)


def _loc(path: Path | None, line: Line) -> str:
    return f"{path.name if path else '?'}:{line.number}"


def _names(path: Path | None) -> list[str]:
    """A PGPR name list (line = index); names are kept raw here and cleaned by :class:`NameIndex`."""
    return [line.text for line in iter_lines(path)] if path else []


def _good_indexes(tokens: list[str], table: list[str]) -> Iterator[int]:
    for token in tokens:
        if token.isdigit() and int(token) < len(table):
            yield int(token)


def _bad_indexes(
    tokens: list[str], table: list[str], line: Line, location: str, table_name: str,
    kind: RecordKind = RecordKind.PRODUCT,
) -> Iterator[RawRecord]:
    """One broken record per line holding tokens that are not indexes into ``table`` (or bad bytes)."""
    bad = [t for t in tokens if not (t.isdigit() and int(t) < len(table))]
    if line.error:
        yield broken(kind, line.text, location, line.error)
    elif bad:
        yield broken(kind, line.text, location,
                     f"not indexes into {table_name} ({len(table)} entries): {bad[:5]}")
