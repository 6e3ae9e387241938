#!/usr/bin/env python
"""Cut the in-repo sample (``data/sample``) from the real datasets in ``../shared/data``.

A fresh clone has no ``../shared``; this sample is what its tests and quick start run on, so it must be real
data, small (under 3 MB, plain files), and regenerable. The script reads the datasets through the project's
own readers (so the sample holds exactly what an ingest of the full data would), selects, and writes
Cartograph's catalog format (``docs/catalog-format.md``) plus ``MANIFEST.json`` (exact counts, which tests
compare the loaded graph against) and ``README.md`` (origin, licences, how it was cut, counts).

Selection (deterministic for a given ``--seed``):

- amazon-beauty: the ``--beauty-top`` most purchased products (where the interactions are) plus
  ``--beauty-random`` others drawn at random (long tail and never-bought items, the cold-start case); users
  with at least ``--min-history`` purchases among them, drawn at random until ``--beauty-interactions``; each
  user's purchases keep their order, ``seq`` renumbered 0..n-1 within the sample; every co-purchase link
  whose two ends are sampled.
- amazon-office: every product whose title or description holds HTML, CSS, entities, escapes or URLs (the
  mess the cleaning must handle), then the most purchased up to ``--office-products``; users with at least
  ``--min-office-history`` purchases among them.

Usage: ``python scripts/make_sample.py --data-dir ../shared/data --out data/sample --seed 0``
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.ingest.readers import open_reader
from kg.ingest.records import RawRecord, RecordKind, slug

ROOT = Path(__file__).resolve().parent.parent

STEMS = ("products", "users", "events", "links")
EVENT_COLUMNS = ("user_id", "product_id", "type", "ts", "seq", "rating", "count")
MAX_BYTES = 3_000_000
MESSY = re.compile(r"<[a-zA-Z/!][^>]*>|\{[^}]*:[^}]*\}|&[a-zA-Z#0-9]+;|\\[nt]|https?://")
LINK_KINDS = ("also_bought", "also_viewed", "bought_together")


@dataclass
class Dataset:
    """One source read through its reader, indexed for selection."""

    source: str
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    brands: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    links: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    def popularity(self) -> Counter[str]:
        return Counter(i["product_id"] for history in self.histories.values() for i in history)


def load(path: Path) -> Dataset:
    reader = open_reader(path)
    data = Dataset(reader.source)
    for rec in reader.read():
        if rec.error:
            raise SystemExit(f"{rec.location}: {rec.error} (the sample is cut from clean data only)")
        _index(data, rec)
    data.notes = dict(reader.notes)
    for history in data.histories.values():
        history.sort(key=lambda i: i["seq"])
    return data


def _index(data: Dataset, rec: RawRecord) -> None:
    d = rec.data
    if rec.kind is RecordKind.PRODUCT:
        data.products[d["id"]] = d
    elif rec.kind is RecordKind.BRAND:
        data.brands[d["id"]] = d["name"]
    elif rec.kind is RecordKind.CATEGORY:
        data.categories[d["id"]] = d["name"]
    elif rec.kind is RecordKind.USER:
        data.users.append(d["id"])
    elif rec.kind is RecordKind.INTERACTION:
        data.histories[d["user_id"]].append(d)
    elif rec.kind is RecordKind.LINK:
        data.links.append(d)


@dataclass
class Cut:
    """What a dataset contributes to the sample."""

    data: Dataset
    products: list[str]
    users: list[str]
    histories: dict[str, list[dict[str, Any]]]
    links: list[dict[str, Any]]


def pick_users(
    data: Dataset, products: set[str], min_history: int, max_interactions: int | None, rng: random.Random
) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
    """Users with at least ``min_history`` purchases among ``products``, in random order until the budget."""
    kept = {u: [i for i in h if i["product_id"] in products] for u, h in data.histories.items()}
    eligible = [u for u in data.users if len(kept.get(u, ())) >= min_history]
    rng.shuffle(eligible)
    chosen, total = [], 0
    for user in eligible:
        if max_interactions is not None and total + len(kept[user]) > max_interactions:
            break
        chosen.append(user)
        total += len(kept[user])
    order = {u: n for n, u in enumerate(data.users)}
    chosen.sort(key=order.__getitem__)
    return chosen, {u: kept[u] for u in chosen}


def cut_beauty(data: Dataset, args: argparse.Namespace, rng: random.Random) -> Cut:
    """Products ranked by purchases / sqrt(1 + co-purchase degree): bought often (dense histories) but not
    the hubs of the co-purchase graph, whose links among themselves would outweigh the rest of the sample."""
    popularity = data.popularity()
    degree: Counter[str] = Counter()
    for link in data.links:
        degree[link["src"]] += 1
        degree[link["dst"]] += 1
    ranked = sorted(data.products, key=lambda p: (-popularity[p] / math.sqrt(1 + degree[p]), p))
    top = ranked[: args.beauty_products - args.beauty_random]
    rest = ranked[len(top) :]
    chosen = set(top) | set(rng.sample(rest, min(args.beauty_random, len(rest))))
    users, histories = pick_users(data, chosen, args.min_history, args.beauty_interactions, rng)
    links = [link for link in data.links if link["src"] in chosen and link["dst"] in chosen]
    return Cut(data, [p for p in data.products if p in chosen], users, histories, links)


def cut_office(data: Dataset, args: argparse.Namespace, rng: random.Random) -> Cut:
    messy = [p for p, d in data.products.items() if MESSY.search(f"{d['title'] or ''} {d['description'] or ''}")]
    chosen = set(messy[: args.office_products])
    for product, _ in data.popularity().most_common():
        if len(chosen) >= args.office_products:
            break
        chosen.add(product)
    users, histories = pick_users(data, chosen, args.min_office_history, args.office_interactions, rng)
    return Cut(data, [p for p in data.products if p in chosen], users, histories, [])


# -- writing ---------------------------------------------------------------------------------------------


def product_line(product: dict[str, Any], brands: dict[str, str], categories: dict[str, str]) -> dict[str, Any]:
    return {
        "id": product["id"],
        "title": product["title"],
        "description": product["description"],
        "price": product["price"],
        "brand": brands[product["brand_id"]] if product["brand_id"] else None,
        "categories": [categories[c] for c in product["category_ids"]],
        "active": True,
    }


def event_lines(user: str, history: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for seq, i in enumerate(history):  # renumbered: positions within the sample
        line = {"user_id": user, "product_id": i["product_id"], "type": i["kind"], "ts": i["ts"], "seq": seq,
                "rating": None}
        if i["count"] != 1:
            line["count"] = i["count"]
        yield line


def display_names(cuts: list[Cut], attr: str) -> dict[str, str]:
    """One display name per id across sources (the first source's wins), so every product naming a brand
    spells it the same way and the catalog reader makes one node of it."""
    names: dict[str, str] = {}
    for cut in cuts:
        for key, name in getattr(cut.data, attr).items():
            names.setdefault(key, name)
    return names


def build_lines(cuts: list[Cut]) -> dict[str, list[dict[str, Any]]]:
    brands, categories = display_names(cuts, "brands"), display_names(cuts, "categories")
    lines: dict[str, list[dict[str, Any]]] = {stem: [] for stem in STEMS}
    for cut in cuts:
        lines["products"] += [product_line(cut.data.products[p], brands, categories) for p in cut.products]
        lines["users"] += [{"id": u, "name": None} for u in cut.users]
        for user in cut.users:
            lines["events"] += event_lines(user, cut.histories[user])
        lines["links"] += [{"src": k["src"], "dst": k["dst"], "type": k["kind"]} for k in cut.links]
    return lines


def write_rows(path: Path, rows: list[dict[str, Any]]) -> int:
    """JSON Lines (compact, keys in the format's order) or, for ``.csv``, a header and one row per record
    (null = empty cell, which the catalog reader reads as "not given"). Returns the bytes written."""
    if path.suffix == ".csv":
        out = io.StringIO()
        columns = EVENT_COLUMNS if path.stem == "events" else tuple(rows[0]) if rows else ()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = out.getvalue()
    else:
        text = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8", newline="\n")
    return len(text.encode("utf-8"))


def file_names(edges_format: str) -> dict[str, str]:
    return {stem: f"{stem}.{edges_format if stem in ('events', 'links') else 'jsonl'}" for stem in STEMS}


def manifest(lines: dict[str, list[dict[str, Any]]], sizes: dict[str, int], cuts: list[Cut],
             args: argparse.Namespace) -> dict[str, Any]:
    """Exact counts: per file, per source, and the graph the sample must load into."""
    products, events, links = lines["products"], lines["events"], lines["links"]
    names = file_names(args.edges_format)
    brands = {slug(p["brand"]) for p in products if p["brand"]}
    categories = {slug(c) for p in products for c in p["categories"]}
    link_kinds = Counter(k["type"] for k in links)
    return {
        "generator": "scripts/make_sample.py",
        "arguments": {k: v for k, v in sorted(vars(args).items()) if k not in ("data_dir", "out")},
        "files": {name: {"records": len(lines[stem]), "bytes": sizes[name]} for stem, name in names.items()},
        "total_bytes": sum(sizes.values()),
        "by_source": {
            cut.data.source: {"products": len(cut.products), "users": len(cut.users),
                              "events": sum(len(h) for h in cut.histories.values()), "links": len(cut.links)}
            for cut in cuts
        },
        "graph": {
            "nodes": {"Product": len(products), "User": len(lines["users"]), "Brand": len(brands),
                      "Category": len(categories)},
            "relationships": {
                "PURCHASED": sum(e["type"] == "purchase" for e in events),
                "VIEWED": sum(e["type"] == "view" for e in events),
                "RATED": sum(e["type"] == "rating" for e in events),
                "MADE_BY": sum(1 for p in products if p["brand"]),
                "IN_CATEGORY": sum(len({slug(c) for c in p["categories"]}) for p in products),
                **{kind.upper(): link_kinds[kind] for kind in LINK_KINDS},
            },
        },
    }


README_TEMPLATE = """\
# data/sample: the shipped real-data sample

A small cut of two real public datasets, in Cartograph's catalog format (`docs/catalog-format.md`), so that
a fresh clone can run its tests and its quick start with no network and no `../shared`. It is generated by
`scripts/make_sample.py`; do not edit it by hand (regenerate it, and `MANIFEST.json` with it).

## Origin

- **amazon-beauty**: Amazon review data, Beauty 5-core (2014 crawl; J. McAuley et al., UCSD), as shipped
  by research repositories (folder -> repository @ commit): `pgpr/` orcax/PGPR @ df6aac19 (brands,
  categories, co-purchase lists), `s3rec/` RUCAIBox/CIKM2020-S3Rec @ 2a81540a (purchase sequences),
  `p5/` Wenyueh/LLM-RecSys-ID @ 2200ad9f (id maps), `idgenrec/` agiresearch/IDGenRec @ a297185a (titles).
- **amazon-office**: Amazon Reviews 2018 (J. Ni, J. Li, J. McAuley), Office_Products 5-core subset
  (2016-10 .. 2018-11), as shipped by AkaliKong/MiniOneRec @ 81b4ba98.

Licence: the review data belongs to its authors and Amazon and is distributed by the McAuley lab for
research use; the repositories above license their code (MIT for LLM-RecSys-ID, Apache-2.0 for
MiniOneRec), not the data. This sample is kept for research, development and testing of this project only;
do not redistribute it as a dataset, and cite the original papers when publishing results on it.

## How it was cut

`python scripts/make_sample.py --data-dir ../shared/data --out data/sample {args}`

The datasets are read with the project's own readers (`kg/ingest/readers/amazon_beauty.py`,
`amazon_office.py`), so the sample holds exactly what an ingest of the full data holds for these ids.

- amazon-beauty: `--beauty-products` products, ranked by purchases / sqrt(1 + co-purchase degree) (bought
  often, so user histories stay dense, but not the hubs of the co-purchase graph, whose links among
  themselves would outweigh the rest of the sample), of which `--beauty-random` are drawn at random from the
  rest (long tail, some never bought: the cold-start case). Users with at least `--min-history` purchases
  among those products, drawn at random until about `--beauty-interactions` purchases. Each user's purchases
  keep their order; `seq` is renumbered 0..n-1 within the sample (the last one is the leave-one-out test
  item). Every co-purchase link (also_bought, also_viewed, bought_together) whose two products are both
  sampled.
- amazon-office: every product whose title or description holds HTML tags, CSS, HTML entities, escaped
  newlines or URLs (the mess the cleaning must handle), then the most purchased ones up to
  `--office-products`; users with at least `--min-office-history` purchases among them, in order.
  Ids are prefixed `office:` (the source's ids are small integers that collide with other catalogs).

What the data does not have: no prices (`price` is null), no timestamps (`ts` null; `seq` gives the order),
no ratings; amazon-beauty products have only short lower-cased title fragments (no descriptions);
amazon-office products have no categories. Brand and category names are HTML-unescaped (`L&#39;Oreal` ->
`L'Oreal`) and spellings that differ only in case or punctuation share one display name; titles and
descriptions are exactly as in the source, HTML and CSS included.

## Counts

| file | records | bytes |
|---|---:|---:|
{files}

Total {total} bytes.

- amazon-beauty: {beauty[products]:,} products, {beauty[users]:,} users, {beauty[events]:,} purchases,
  {beauty[links]:,} links
- amazon-office: {office[products]:,} products, {office[users]:,} users, {office[events]:,} purchases
- graph after ingest: nodes {nodes}; relationships {rels}

What the readers noted while reading the full datasets (facts that are not records):

- amazon-beauty
{beauty_notes}
- amazon-office
{office_notes}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beauty-products", type=int, default=2000)
    parser.add_argument("--beauty-random", type=int, default=500, help="of which drawn at random")
    parser.add_argument("--beauty-interactions", type=int, default=10000, help="budget (about)")
    parser.add_argument("--min-history", type=int, default=4)
    parser.add_argument("--office-products", type=int, default=500)
    parser.add_argument("--office-interactions", type=int, default=3000, help="budget (about)")
    parser.add_argument("--min-office-history", type=int, default=3)
    parser.add_argument("--edges-format", choices=("jsonl", "csv"), default="jsonl",
                        help="events and links as JSON Lines (default) or CSV (about 2.5x smaller)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    beauty = load(args.data_dir / "amazon-beauty")
    office = load(args.data_dir / "amazon-office")
    cuts = [cut_beauty(beauty, args, rng), cut_office(office, args, rng)]
    lines = build_lines(cuts)
    args.out.mkdir(parents=True, exist_ok=True)
    names = file_names(args.edges_format)
    for stale in {f"{stem}.{ext}" for stem in STEMS for ext in ("jsonl", "csv")} - set(names.values()):
        (args.out / stale).unlink(missing_ok=True)
    sizes = {names[stem]: write_rows(args.out / names[stem], rows) for stem, rows in lines.items()}
    info = manifest(lines, sizes, cuts, args)
    (args.out / "MANIFEST.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (args.out / "README.md").write_text(readme(info, cuts), encoding="utf-8")
    print(json.dumps(info, indent=2))
    if info["total_bytes"] > MAX_BYTES:
        print(f"sample is {info['total_bytes']} bytes, over the {MAX_BYTES} budget", file=sys.stderr)
        return 1
    return 0


def readme(info: dict[str, Any], cuts: list[Cut]) -> str:
    by_source = info["by_source"]
    files = "\n".join(f"| `{name}` | {v['records']:,} | {v['bytes']:,} |" for name, v in info["files"].items())
    graph = info["graph"]
    return README_TEMPLATE.format(
        args=" ".join(f"--{k.replace('_', '-')} {v}" for k, v in info["arguments"].items()),
        files=files,
        total=f"{info['total_bytes']:,}",
        beauty=by_source["amazon-beauty"],
        office=by_source["amazon-office"],
        nodes=", ".join(f"{k} {v:,}" for k, v in graph["nodes"].items()),
        rels=", ".join(f"{k} {v:,}" for k, v in graph["relationships"].items()),
        beauty_notes="\n".join(f"  - {k}: {v:,}" for k, v in cuts[0].data.notes.items()),
        office_notes="\n".join(f"  - {k}: {v:,}" for k, v in cuts[1].data.notes.items()),
    )


if __name__ == "__main__":
    raise SystemExit(main())
