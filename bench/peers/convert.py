"""Cartograph's graph and split -> RecBole atomic files, so that RecBole trains, validates and tests on exactly
the interactions Cartograph does.

    .venv/bin/python bench/peers/convert.py --dataset ml-100k-kg --data-dir ../shared/data [--work-dir var/peers]

The split is made by Cartograph's own code (:func:`gnn.data.split_snapshot`, leave-one-out by time order per
user, users with fewer than ``min_interactions`` interactions train only) with ``cold_fraction=0``: the
standard split, the one ``cartograph train`` and ``bench/quality.py --variant standard`` use. Three RecBole
datasets are written under the work dir, each as benchmark files ``<name>.train.inter``, ``.valid.inter``,
``.test.inter`` (config ``benchmark_filename: [train, valid, test]``), which RecBole uses as given:

- ``<dataset>``: (user, item) pairs, with ``.item``, ``.kg``, ``.link``: what the graph peers train on;
- ``<dataset>-refit``: the same with the valid pairs added to train (``valid`` repeats them; it is never
  evaluated): a graph peer is refitted on it for its early-stopped epoch count, so that at test time it has the
  valid interaction as input, as a sequential model does (``run_recbole_models.py``);
- ``<dataset>-seq``: RecBole's sequential format, (user, ``item_id_list``, item): one train row per train
  interaction after a user's first (history = the train items before it), one valid row (history = the user's
  train items), one test row (history = train + valid items); histories in Cartograph's order (time, then
  sequence number, then product index: :func:`gnn.data.user_histories`), the last :data:`SEQ_MAX_LEN` kept.
  RecBole's own augmentation does the same for the train rows; it is done here so that valid and test read
  exactly these histories (checked on read-back by :func:`check_sequential`).

The graphs:

- ``ml-100k-kg`` (RecBole's MovieLens-100k with its Freebase KG): Cartograph's snapshot is built here from the
  atomic files: movies are products (title ``"<title> (<year>)"``, description = the MovieLens genres: the
  text Cartograph embeds), every rating is a ``RATED`` interaction ordered by timestamp (ties by product
  index, as :func:`~gnn.data.split_snapshot` orders them), and every KG triple ``(h, r, t)`` with a movie at
  one end becomes ``(movie)-[:MENTIONS]->(Entity other end)`` (all 91,631 triples have a movie at one end;
  the relation name is not kept: Cartograph's ``MENTIONS`` is untyped). RecBole gets the shipped ``.kg`` and
  ``.link`` unchanged (with their 24 relation types).
- ``amazon-beauty``, ``amazon-office``: the snapshot ``bench/datasets.py`` makes (Cartograph's reader and
  ingest into an embedded store under the work dir, entities extracted as ``cartograph quickstart`` does):
  the graph ``cartograph train`` and ``bench/quality.py`` see. RecBole's KG is made from that graph's product
  relations: ``made_by`` (brand), ``in_category``, ``mentions`` (extracted entities) as triples between
  entities ``p:<product>``, ``b:<brand>``, ``c:<category>``, ``e:<entity>``; every product is linked to its
  ``p:`` entity; a product in no triple gets one ``no_attribute`` triple to a leaf entity of its own (RecBole
  cannot load a linked item in no triple). The co-purchase lists (``also_bought``, ``also_viewed``,
  ``bought_together``) only with ``copurchase=True``: they were crawled after the interactions and know the
  future of the split (off in Cartograph's default config too). So both sides see the same knowledge graph.

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

from gnn.data import (  # noqa: E402
    COPURCHASE_RELATIONS,
    INTERACTION_TYPES,
    ITEM_RELATIONS,
    GraphSnapshot,
    Split,
    split_snapshot,
    user_histories,
)
from kg.schema import RelType  # noqa: E402

DATASETS = ("ml-100k-kg", "amazon-beauty", "amazon-office", "amazon-book-kgat")
#: Datasets with no time order (KGAT's Amazon-book split is sets of items per user): no sequential files, so
#: no sequential peer; their split is the dataset's own (:func:`snapshot_and_split`).
UNORDERED = frozenset({"amazon-book-kgat"})
PARTS = ("train", "valid", "test")
#: RecBole dataset names beside ``<dataset>``: the refit set (valid added to train) and the sequential set.
REFIT_SUFFIX, SEQ_SUFFIX = "-refit", "-seq"
#: Most recent items in a sequential row's history: RecBole's MAX_ITEM_LIST_LENGTH default (overall.yaml), and
#: SASRec's setting for Amazon Beauty (Kang & McAuley 2018, n = 50). The sequential peers' configs must match.
SEQ_MAX_LEN = 50
SEQ_HEADER = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
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


# -- snapshots and splits (bench/datasets.py) ----------------------------------------------------------------


def peer_split(snapshot: GraphSnapshot, *, seed: int = 0, min_interactions: int = 3) -> Split:
    """Cartograph's split with no cold products (what every model of the comparison trains and is tested on)."""
    return split_snapshot(snapshot, cold_fraction=0.0, seed=seed, min_interactions=min_interactions)


def snapshot_and_split(dataset: str, data_dir: Path, work_dir: Path, *, min_interactions: int = 3
                       ) -> tuple[GraphSnapshot, Split]:
    """``dataset``'s snapshot and the split every model of the comparison uses: the dataset's own where it fixes
    one (amazon-book-kgat: KGAT's published train/test, a validation item held out of train for 10,000 users),
    else :func:`peer_split`."""
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import datasets  # bench/datasets.py imports this module: imported here, not at the top

    snapshot, given = datasets.load(dataset, data_dir, work_dir)
    return snapshot, given if given is not None else peer_split(snapshot, min_interactions=min_interactions)


# -- writing ---------------------------------------------------------------------------------------------

_ENTITY_PREFIX = {"product": "p:", "brand": "b:", "category": "c:", "entity": "e:"}
#: The relation and entity prefix of the one triple a product in no other triple gets (see snapshot_kg).
NO_ATTRIBUTE, NO_ATTRIBUTE_PREFIX = "no_attribute", "n:"


def snapshot_kg(snapshot: GraphSnapshot, *, copurchase: bool = False
                ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(KG triples, item -> entity links) from the snapshot's product relations (see the module docstring);
    the co-purchase relations only with ``copurchase``."""
    triples: list[tuple[str, str, str]] = []
    for name, (_, target) in ITEM_RELATIONS.items():
        if name in COPURCHASE_RELATIONS and not copurchase:
            continue
        edges = snapshot.item_edges[name]
        src_ids, dst_ids = snapshot.ids["product"], snapshot.ids[target]
        for s, d in edges.T.tolist():
            triples.append((_ENTITY_PREFIX["product"] + src_ids[s], name, _ENTITY_PREFIX[target] + dst_ids[d]))
    links = [(p, _ENTITY_PREFIX["product"] + p) for p in snapshot.ids["product"]]
    # RecBole 1.2.1 cannot load a linked item that is in no triple (KnowledgeBasedDataset._merge_item_and_entity
    # raises KeyError on another entity's token), and dropping its link would drop its interactions from the KG
    # peers' split. Such a product (2 of amazon-office's 3,459: no brand, no entity) gets one triple to a leaf
    # entity of its own, which tells a model nothing another product shares.
    described = {h for h, _, _ in triples}
    triples += [(entity, NO_ATTRIBUTE, NO_ATTRIBUTE_PREFIX + product) for product, entity in links
                if entity not in described]
    return triples, links


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def write_recbole_dataset(snapshot: GraphSnapshot, split: Split, out_dir: Path, name: str, *,
                          shipped_kg: Path | None = None, copurchase: bool = False) -> dict[str, Any]:
    """Write ``out_dir/<name>/<name>.{train,valid,test}.inter``, ``.item``, ``.kg``, ``.link`` and ``split.json``.

    ``shipped_kg``: a folder whose ``<prefix>.kg``/``.link`` are copied as RecBole's KG (ml-100k); otherwise the
    KG comes from the snapshot (:func:`snapshot_kg`, co-purchase lists with ``copurchase``). Returns the summary
    also written to ``split.json``.
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
        triples, links = snapshot_kg(snapshot, copurchase=copurchase)
        counts["kg"] = write_atomic(ds_dir / f"{name}.kg", ["head_id:token", "relation_id:token", "tail_id:token"],
                                    triples)
        counts["link"] = write_atomic(ds_dir / f"{name}.link", ["item_id:token", "entity_id:token"], links)
    summary = {"dataset": name, "snapshot_id": snapshot.snapshot_id, "rows": counts,
               "users": snapshot.num_users, "products": snapshot.num_products,
               "copurchase_in_kg": copurchase if shipped_kg is None else None,
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


def write_refit_dataset(out_dir: Path, name: str) -> dict[str, int]:
    """``<name>-refit``: ``<name>``'s files with the valid pairs appended to train (see the module docstring)."""
    src, dst = out_dir / name, out_dir / f"{name}{REFIT_SUFFIX}"
    dst.mkdir(parents=True, exist_ok=True)
    header, train = read_atomic(src / f"{name}.train.inter")
    _, valid = read_atomic(src / f"{name}.valid.inter")
    counts = {"train": write_atomic(dst / f"{dst.name}.train.inter", header, [*train, *valid])}
    for part in ("valid", "test"):
        shutil.copyfile(src / f"{name}.{part}.inter", dst / f"{dst.name}.{part}.inter")
    for suffix in ("item", "kg", "link"):
        shutil.copyfile(src / f"{name}.{suffix}", dst / f"{dst.name}.{suffix}")
    return counts


def sequential_rows(snapshot: GraphSnapshot, split: Split, max_len: int = SEQ_MAX_LEN
                    ) -> dict[str, list[tuple[int, list[int], int]]]:
    """``part -> [(user, history, target)]`` (indexes) of the sequential files (see the module docstring)."""
    train_hist = user_histories(snapshot, split, "valid")
    test_hist = user_histories(snapshot, split, "test")
    rows: dict[str, list[tuple[int, list[int], int]]] = {"train": [], "valid": [], "test": []}
    for u, items in enumerate(train_hist):
        seq = items.tolist()
        rows["train"] += [(u, seq[max(0, i - max_len):i], seq[i]) for i in range(1, len(seq))]
    for u, p in split.valid.T.tolist():
        rows["valid"].append((u, train_hist[u][-max_len:].tolist(), p))
    for u, p in split.test.T.tolist():
        rows["test"].append((u, test_hist[u][-max_len:].tolist(), p))
    return rows


def write_sequential_dataset(snapshot: GraphSnapshot, split: Split, out_dir: Path, name: str, *,
                             max_len: int = SEQ_MAX_LEN) -> dict[str, int]:
    """``<name>-seq``: RecBole's sequential benchmark files (see the module docstring); returns the row counts."""
    seq_name = f"{name}{SEQ_SUFFIX}"
    ds_dir = out_dir / seq_name
    ds_dir.mkdir(parents=True, exist_ok=True)
    users, products = snapshot.ids["user"], snapshot.ids["product"]
    counts = {}
    for part, rows in sequential_rows(snapshot, split, max_len).items():
        counts[part] = write_atomic(ds_dir / f"{seq_name}.{part}.inter", SEQ_HEADER,
                                    ((users[u], " ".join(products[h] for h in hist), products[p])
                                     for u, hist, p in rows))
    return counts


def check_sequential(out_dir: Path, name: str, snapshot: GraphSnapshot, split: Split,
                     max_len: int = SEQ_MAX_LEN) -> None:
    """Read the sequential files back and fail unless: the (user, target) pairs of each part are the split's;
    every valid row's history is the user's train items in order, every test row's is train + valid (the valid
    item last); every train row's history is the train items before its target. (Each cut to ``max_len``.)"""
    seq_name = f"{name}{SEQ_SUFFIX}"
    u_index, p_index = snapshot.index("user"), snapshot.index("product")
    train_hist = [h.tolist() for h in user_histories(snapshot, split, "valid")]
    valid_item = dict(split.valid.T.tolist())
    for part in PARTS:
        header, rows = read_atomic(out_dir / seq_name / f"{seq_name}.{part}.inter")
        if header != SEQ_HEADER:
            raise RuntimeError(f"{seq_name}.{part}.inter: header {header}, expected {SEQ_HEADER}")
        seen, position = [], np.zeros(len(train_hist), dtype=np.int64)  # train rows: a user's in order
        for n, (user, hist_ids, target) in enumerate(rows, start=2):
            u, p = u_index[user], p_index[target]
            hist = [p_index[h] for h in hist_ids.split()]
            if part == "train":
                position[u] += 1
                i, full = position[u], train_hist[u]
                expected = full[max(0, i - max_len):i] if i < len(full) and full[i] == p else None
            elif part == "valid":
                expected = train_hist[u][-max_len:]
            else:
                expected = [*train_hist[u], valid_item[u]][-max_len:] if u in valid_item else None
            if hist != expected:
                raise RuntimeError(f"{seq_name}.{part}.inter:{n}: history of user {user} is not the {part} history")
            seen.append((u, p))
        if part == "train" and any(position[u] != max(len(h) - 1, 0) for u, h in enumerate(train_hist)):
            raise RuntimeError(f"{seq_name}.train.inter: not one row per train interaction after each user's first")
        pairs = np.array(seen, dtype=np.int64).T.reshape(2, -1)
        if part != "train" and not same_pairs(pairs, getattr(split, part)):
            raise RuntimeError(f"{seq_name}.{part}.inter: (user, item) pairs differ from Cartograph's {part} split")


def convert(dataset: str, data_dir: Path, work_dir: Path, *, copurchase: bool = False,
            min_interactions: int = 3) -> tuple[GraphSnapshot, Split, dict[str, Any]]:
    """Snapshot, split and write ``dataset``'s three RecBole datasets (module docstring; two for a dataset with
    no time order, :data:`UNORDERED`); checks that the files read back to the same split and the sequential
    histories to the ones Cartograph reads."""
    snapshot, split = snapshot_and_split(dataset, data_dir, work_dir, min_interactions=min_interactions)
    shipped = data_dir / dataset if dataset == "ml-100k-kg" else None
    summary = write_recbole_dataset(snapshot, split, work_dir, dataset, shipped_kg=shipped, copurchase=copurchase)
    back = read_split(work_dir / dataset, dataset, snapshot)
    for part in PARTS:
        if not same_pairs(back[part], getattr(split, part)):
            raise RuntimeError(f"{dataset}: the written {part} file does not read back to Cartograph's split")
    summary["rows_refit"] = write_refit_dataset(work_dir, dataset)
    if dataset in UNORDERED:
        return snapshot, split, summary
    summary["rows_sequential"] = write_sequential_dataset(snapshot, split, work_dir, dataset)
    summary["sequential_max_len"] = SEQ_MAX_LEN
    check_sequential(work_dir, dataset, snapshot, split)
    return snapshot, split, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=DATASETS, action="append", help="default: all")
    ap.add_argument("--copurchase", action="store_true", help="co-purchase lists in the KG (they know the future)")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    args = ap.parse_args(argv)
    for dataset in args.dataset or DATASETS:
        _, _, summary = convert(dataset, args.data_dir, args.work_dir, copurchase=args.copurchase)
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
