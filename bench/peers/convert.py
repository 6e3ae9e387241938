"""Cartograph's graph and split -> RecBole atomic files, so that RecBole trains, validates and tests on exactly
the interactions Cartograph does.

    .venv/bin/python bench/peers/convert.py --dataset ml-100k-kg --data-dir ../shared/data [--work-dir var/peers]

The split is made by Cartograph's own code (:func:`gnn.data.split_snapshot`, leave-one-out by time order per
user, users with fewer than ``min_interactions`` interactions train only) with ``cold_fraction=0``: RecBole
cannot rank an item it never saw in training, so the comparison is on the warm test set, and no product is
withheld. The three parts are written as RecBole benchmark files ``<name>.train.inter``, ``.valid.inter``,
``.test.inter`` (config ``benchmark_filename: [train, valid, test]``), which RecBole uses as given.

The graphs:

- ``ml-100k-kg`` (RecBole's MovieLens-100k with its Freebase KG): Cartograph's snapshot is built here from the
  atomic files: movies are products (title ``"<title> (<year>)"``, description = the MovieLens genres: the
  text Cartograph embeds), every rating is a ``RATED`` interaction ordered by timestamp (ties by product
  index, as :func:`~gnn.data.split_snapshot` orders them), and every KG triple ``(h, r, t)`` with a movie at
  one end becomes ``(movie)-[:MENTIONS]->(Entity other end)`` (all 91,631 triples have a movie at one end;
  the relation name is not kept: Cartograph's ``MENTIONS`` is untyped). RecBole gets the shipped ``.kg`` and
  ``.link`` unchanged (with their 24 relation types).
- ``amazon-beauty``: ingested by Cartograph's own reader and pipeline into an embedded store under the work
  dir, then read back with :func:`~gnn.data.snapshot_from_store` (the graph ``cartograph train`` sees).
  RecBole's KG is made from that graph's product relations: ``made_by`` (brand), ``in_category``,
  ``also_bought``, ``also_viewed``, ``bought_together`` (and ``mentions`` when entities were extracted) as
  triples between entities ``p:<product>``, ``b:<brand>``, ``c:<category>``, ``e:<entity>``; every product
  is linked to its ``p:`` entity. So both sides see the same knowledge graph.

Ids are Cartograph's own (RecBole tokens), so a peer's ranking maps back to product indexes by id.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from atomic import column, read_atomic, write_atomic  # noqa: E402

from gnn.data import INTERACTION_TYPES, ITEM_RELATIONS, GraphSnapshot, Split, snapshot_from_store, split_snapshot  # noqa: E402
from kg.schema import RelType  # noqa: E402

DATASETS = ("ml-100k-kg", "amazon-beauty")
PARTS = ("train", "valid", "test")
#: RecBole config keys that make it use the written split as is.
BENCHMARK_FILENAME = list(PARTS)
ML100K_PREFIX = "ml-100k"
_RATED = INTERACTION_TYPES.index(RelType.RATED)
_SPACES = re.compile(r"\s+")


# -- ml-100k-kg: atomic files -> GraphSnapshot ----------------------------------------------------------


def ml100k_snapshot(src: Path, prefix: str = ML100K_PREFIX) -> GraphSnapshot:
    """Cartograph's snapshot of RecBole's ml-100k (``<prefix>.inter``, ``.item``, ``.kg``, ``.link`` in ``src``)."""
    ih, irows = read_atomic(src / f"{prefix}.item")
    item_ids = column(ih, irows, "item_id")
    titles_by_id = dict(zip(item_ids, column(ih, irows, "movie_title"), strict=True))
    years = dict(zip(item_ids, column(ih, irows, "release_year"), strict=True))
    genres = dict(zip(item_ids, column(ih, irows, "class"), strict=True))
    nh, nrows = read_atomic(src / f"{prefix}.inter")
    users_col, items_col = column(nh, nrows, "user_id"), column(nh, nrows, "item_id")
    ts_col = column(nh, nrows, "timestamp")
    products = sorted(set(item_ids) | set(items_col))
    users = sorted(set(users_col))
    p_index = {p: i for i, p in enumerate(products)}
    u_index = {u: i for i, u in enumerate(users)}

    first: dict[tuple[int, int], int] = {}
    for u, p, ts in zip(users_col, items_col, ts_col, strict=True):
        key, t = (u_index[u], p_index[p]), int(float(ts))
        first[key] = min(t, first.get(key, t))  # a repeated rating: its first time orders it
    pairs = sorted(first)
    inter = np.array(pairs, dtype=np.int64).reshape(-1, 2)

    entity_of_item = dict(_pairs(src / f"{prefix}.link", "item_id", "entity_id"))
    item_of_entity = {e: i for i, e in entity_of_item.items()}
    kh, krows = read_atomic(src / f"{prefix}.kg")
    mentions: set[tuple[str, str]] = set()
    for head, tail in zip(column(kh, krows, "head_id"), column(kh, krows, "tail_id"), strict=True):
        for end, other in ((head, tail), (tail, head)):
            if end in item_of_entity and item_of_entity[end] in p_index:
                mentions.add((item_of_entity[end], other))
    entities = sorted({e for _, e in mentions})
    e_index = {e: i for i, e in enumerate(entities)}
    mention_edges = np.array(sorted((p_index[p], e_index[e]) for p, e in mentions), dtype=np.int64).reshape(-1, 2)

    def title(p: str) -> str:
        year = years.get(p, "")
        return f"{titles_by_id.get(p, '')} ({year})" if year else titles_by_id.get(p, "")

    empty = np.zeros((2, 0), dtype=np.int64)
    item_edges = {name: empty.copy() for name in ITEM_RELATIONS}
    item_edges["mentions"] = mention_edges.T.copy()
    n = len(pairs)
    snapshot = GraphSnapshot(
        ids={"user": users, "product": products, "brand": [], "category": [], "entity": entities},
        names={"user": [], "product": [], "brand": [], "category": [], "entity": [""] * len(entities)},
        titles=[title(p) for p in products], descriptions=[genres.get(p, "") for p in products],
        text_hashes=[""] * len(products), active=np.ones(len(products), dtype=bool),
        inter_user=inter[:, 0].copy(), inter_product=inter[:, 1].copy(),
        inter_ts=np.array([first[k] for k in pairs], dtype=np.int64), inter_seq=np.zeros(n, dtype=np.int64),
        inter_count=np.ones(n, dtype=np.int64), inter_kind=np.full(n, _RATED, dtype=np.int8), item_edges=item_edges,
    )
    snapshot.snapshot_id = snapshot.compute_id()
    return snapshot


def _pairs(path: Path, a: str, b: str) -> Iterator[tuple[str, str]]:
    header, rows = read_atomic(path)
    yield from zip(column(header, rows, a), column(header, rows, b), strict=True)


# -- amazon-beauty: Cartograph's own ingest ---------------------------------------------------------------


def ingest_store(src: Path, store_path: Path) -> None:
    """Ingest the dataset folder ``src`` with Cartograph's reader and pipeline into a fresh embedded store."""
    from kg.config import PROJECT_ROOT
    from kg.ingest import pipeline
    from kg.ingest.readers import open_reader
    from kg.queries import QueryLibrary
    from kg.store.embedded import EmbeddedStore

    for stale in (store_path, store_path.with_name(store_path.name + ".wal")):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store = EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher"))
    store.init_schema()
    with store:
        pipeline.ingest(open_reader(src), store, quarantine_path=store_path.with_suffix(".quarantine.jsonl"),
                        report_path=store_path.with_suffix(".ingest.json"), progress=False)


def store_snapshot(store_path: Path) -> GraphSnapshot:
    from kg.config import PROJECT_ROOT
    from kg.queries import QueryLibrary
    from kg.store.embedded import EmbeddedStore

    with EmbeddedStore(store_path, QueryLibrary(PROJECT_ROOT / "cypher"), read_only=True) as store:
        return snapshot_from_store(store)


def build_snapshot(dataset: str, data_dir: Path, work_dir: Path, *, ingest: bool = True) -> GraphSnapshot:
    """Cartograph's snapshot of ``dataset`` (one of :data:`DATASETS`) from ``data_dir/<dataset>``.

    ``ingest=False`` reads the embedded store a previous call left in ``work_dir`` (amazon-beauty)."""
    src = data_dir / dataset
    if not src.is_dir():
        raise FileNotFoundError(f"{src} does not exist: --data-dir must hold the {dataset} folder")
    if dataset == "ml-100k-kg":
        return ml100k_snapshot(src)
    if dataset == "amazon-beauty":
        store_path = work_dir / f"{dataset}.lbug"
        if ingest or not store_path.exists():
            ingest_store(src, store_path)
        return store_snapshot(store_path)
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")


def peer_split(snapshot: GraphSnapshot, *, seed: int = 0, min_interactions: int = 3) -> Split:
    """Cartograph's split with no cold products (what every model of the comparison trains and is tested on)."""
    return split_snapshot(snapshot, cold_fraction=0.0, seed=seed, min_interactions=min_interactions)


# -- writing ---------------------------------------------------------------------------------------------

_ENTITY_PREFIX = {"product": "p:", "brand": "b:", "category": "c:", "entity": "e:"}


def snapshot_kg(snapshot: GraphSnapshot) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(KG triples, item -> entity links) from the snapshot's product relations (see the module docstring)."""
    triples: list[tuple[str, str, str]] = []
    for name, (_, target) in ITEM_RELATIONS.items():
        edges = snapshot.item_edges[name]
        src_ids, dst_ids = snapshot.ids["product"], snapshot.ids[target]
        for s, d in edges.T.tolist():
            triples.append((_ENTITY_PREFIX["product"] + src_ids[s], name, _ENTITY_PREFIX[target] + dst_ids[d]))
    links = [(p, _ENTITY_PREFIX["product"] + p) for p in snapshot.ids["product"]]
    return triples, links


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def write_recbole_dataset(snapshot: GraphSnapshot, split: Split, out_dir: Path, name: str, *,
                          shipped_kg: Path | None = None) -> dict[str, Any]:
    """Write ``out_dir/<name>/<name>.{train,valid,test}.inter``, ``.item``, ``.kg``, ``.link`` and ``split.json``.

    ``shipped_kg``: a folder whose ``<prefix>.kg``/``.link`` are copied as RecBole's KG (ml-100k); otherwise the
    KG comes from the snapshot (:func:`snapshot_kg`). Returns the summary also written to ``split.json``.
    """
    ds_dir = out_dir / name
    ds_dir.mkdir(parents=True, exist_ok=True)
    users, products = snapshot.ids["user"], snapshot.ids["product"]
    counts: dict[str, int] = {}
    for part in PARTS:
        pairs = getattr(split, part)
        pairs = pairs[:, np.lexsort((pairs[1], pairs[0]))]
        counts[part] = write_atomic(ds_dir / f"{name}.{part}.inter", ["user_id:token", "item_id:token"],
                                    ((users[u], products[p]) for u, p in pairs.T.tolist()))
    write_atomic(ds_dir / f"{name}.item", ["item_id:token", "title:token_seq"],
                 ((p, _one_line(t)) for p, t in zip(products, snapshot.titles, strict=True)))
    if shipped_kg is not None:
        for suffix in ("kg", "link"):
            header, rows = read_atomic(shipped_kg / f"{ML100K_PREFIX}.{suffix}")
            counts[suffix] = write_atomic(ds_dir / f"{name}.{suffix}", header, rows)
    else:
        triples, links = snapshot_kg(snapshot)
        counts["kg"] = write_atomic(ds_dir / f"{name}.kg", ["head_id:token", "relation_id:token", "tail_id:token"],
                                    triples)
        counts["link"] = write_atomic(ds_dir / f"{name}.link", ["item_id:token", "entity_id:token"], links)
    summary = {"dataset": name, "snapshot_id": snapshot.snapshot_id, "rows": counts,
               "users": snapshot.num_users, "products": snapshot.num_products,
               "split": {"cold_fraction": split.cold_fraction, "seed": split.seed, **split.summary()}}
    (ds_dir / "split.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def read_split(ds_dir: Path, name: str, snapshot: GraphSnapshot) -> dict[str, np.ndarray]:
    """The ``[2, E]`` (user index, product index) pairs of each written part, mapped back through ``snapshot``."""
    u_index, p_index = snapshot.index("user"), snapshot.index("product")
    out = {}
    for part in PARTS:
        header, rows = read_atomic(ds_dir / f"{name}.{part}.inter")
        us = [u_index[u] for u in column(header, rows, "user_id")]
        ps = [p_index[p] for p in column(header, rows, "item_id")]
        out[part] = np.array([us, ps], dtype=np.int64).reshape(2, -1)
    return out


def same_pairs(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two ``[2, E]`` pair arrays hold the same pairs (in any order)."""
    def canon(x: np.ndarray) -> np.ndarray:
        return x[:, np.lexsort((x[1], x[0]))]

    return a.shape == b.shape and bool(np.array_equal(canon(a), canon(b)))


def convert(dataset: str, data_dir: Path, work_dir: Path, *, ingest: bool = True,
            min_interactions: int = 3) -> tuple[GraphSnapshot, Split, dict[str, Any]]:
    """Snapshot, split and write ``dataset``; checks that the files read back to the same split."""
    snapshot = build_snapshot(dataset, data_dir, work_dir, ingest=ingest)
    split = peer_split(snapshot, min_interactions=min_interactions)
    shipped = data_dir / dataset if dataset == "ml-100k-kg" else None
    summary = write_recbole_dataset(snapshot, split, work_dir, dataset, shipped_kg=shipped)
    back = read_split(work_dir / dataset, dataset, snapshot)
    for part in PARTS:
        if not same_pairs(back[part], getattr(split, part)):
            raise RuntimeError(f"{dataset}: the written {part} file does not read back to Cartograph's split")
    return snapshot, split, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=DATASETS, action="append", help="default: both")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    args = ap.parse_args(argv)
    for dataset in args.dataset or DATASETS:
        _, _, summary = convert(dataset, args.data_dir, args.work_dir)
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
