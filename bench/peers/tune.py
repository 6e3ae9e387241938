"""Cartograph config variants on the peers' split: how bench/configs/<dataset>.json was chosen, rerunnable.

    nice .venv/bin/python bench/peers/tune.py ml-100k-kg bench/configs/peers_tune.json [--only a,b]

``peers_tune.json`` maps a dataset to named variants: each is a partial :class:`gnn.config.TrainConfig` applied
on top of ``bench/configs/<dataset>.json`` (with ``cold_fraction`` 0, as in the benchmark), plus one key that
is not a config field: ``"typed_kg": true`` (ml-100k-kg only) splits the untyped ``mentions`` relation into one
relation per Freebase relation of the shipped KG (``genre``, ``actor``, ``director``... inverse pairs merged),
to test whether the relation types Cartograph's graph does not keep would help its encoder.

Each variant trains on the split ``bench/peers.py`` wrote (run it, or its ``--quick`` mode, first), is chosen
on **validation NDCG@10 only**, and its test NDCG@20 / Recall@20 are recorded beside (same metric code). One
JSON line per variant is appended to ``bench/results/peers_tune.jsonl``. One thread per process, so two
processes can share the 2-core machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import cartograph_side  # noqa: E402
import convert  # noqa: E402
from atomic import column, read_atomic  # noqa: E402
from torch_geometric.data import HeteroData  # noqa: E402

from gnn.data import GraphSnapshot  # noqa: E402
from gnn.prepared import prepare_split  # noqa: E402
from gnn.train import train_model  # noqa: E402

MENTIONS = ("product", "mentions", "entity")
REV_MENTIONS = ("entity", "rev_mentions", "product")


def freebase_role(relation: str) -> str:
    """``film.film.directed_by`` and its inverse ``film.director.film`` -> ``director`` (one role per pair)."""
    family, _, name = relation.removeprefix("film.").partition(".")
    aliases = {"film_genre": "genre", "film_subject": "subject", "content_rating": "rating",
               "production_company": "company", "directed_by": "director", "produced_by": "producer",
               "written_by": "writer", "cinematography": "cinematographer", "genre": "genre",
               "subjects": "subject", "production_companies": "company", "prequel": "sequel"}
    role = name if family == "film" else family
    return aliases.get(role, role)


def entity_roles(data_dir: Path) -> dict[str, str]:
    """Entity id -> its most frequent role towards a movie in ml-100k's shipped KG."""
    src = data_dir / "ml-100k-kg"
    lh, lrows = read_atomic(src / "ml-100k.link")
    movies = set(column(lh, lrows, "entity_id"))
    kh, krows = read_atomic(src / "ml-100k.kg")
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for head, rel, tail in zip(column(kh, krows, "head_id"), column(kh, krows, "relation_id"),
                               column(kh, krows, "tail_id"), strict=True):
        for end, other in ((head, tail), (tail, head)):  # as convert.ml100k_snapshot: movie-movie both ways
            if end in movies:
                counts[other][freebase_role(rel)] += 1
    return {e: c.most_common(1)[0][0] for e, c in counts.items()}


def split_mentions_by_role(data: HeteroData, snapshot: GraphSnapshot, roles: dict[str, str]) -> HeteroData:
    """Replace ``mentions`` / ``rev_mentions`` by ``mentions_<role>`` / ``rev_mentions_<role>``."""
    edges = data[MENTIONS].edge_index
    del data[MENTIONS], data[REV_MENTIONS]
    role_of = np.array([roles.get(e, "other") for e in snapshot.ids["entity"]])
    edge_roles = role_of[edges[1].numpy()]
    for role in sorted(set(edge_roles)):
        part = edges[:, torch.from_numpy(edge_roles == role)]
        data["product", f"mentions_{role}", "entity"].edge_index = part
        data["entity", f"rev_mentions_{role}", "product"].edge_index = part.flip(0)
    return data


def run_variant(dataset: str, name: str, variant: dict[str, Any], snapshot: GraphSnapshot, split: Any,
                features: dict[str, np.ndarray], data_dir: Path) -> dict[str, Any]:
    update = dict(variant)
    typed = bool(update.pop("typed_kg", False))
    if typed and dataset != "ml-100k-kg":
        raise SystemExit("typed_kg needs ml-100k-kg's Freebase relations")
    cfg = cartograph_side.load_config(dataset, threads=1).model_copy(update=update)
    prepared = prepare_split(snapshot, split, features if cfg.model == "gnn" else None, cfg)
    if typed:
        split_mentions_by_role(prepared.data, snapshot, entity_roles(data_dir))
    t = time.perf_counter()
    result = train_model(prepared, cfg, progress=False, evaluate=("test",))
    m = result.metrics
    record: dict[str, Any] = {
        "dataset": dataset, "variant": name, "update": variant, "epochs_run": len(result.history),
        "best_epoch": result.best_epoch, "valid_ndcg@10": round(m["valid"]["ndcg@10"], 5),
        "test_ndcg@20": round(m["test"]["ndcg@20"], 5), "test_recall@20": round(m["test"]["recall@20"], 5),
        "seconds": round(time.perf_counter() - t, 1),
    }
    if hasattr(result.model, "relation_weight_table"):
        record["relation_weights_into_product"] = {
            k: round(v, 3) for k, v in result.model.relation_weight_table().get("product", {}).items()}
    return record


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", choices=convert.DATASETS)
    ap.add_argument("variants", type=Path, help="JSON: dataset -> {variant name: partial TrainConfig}")
    ap.add_argument("--only", help="comma-separated variant names")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peers_tune.jsonl")
    args = ap.parse_args(argv)

    variants: dict[str, dict[str, Any]] = json.loads(args.variants.read_text())[args.dataset]
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(variants))
        if unknown:
            raise SystemExit(f"unknown variants {unknown}; {args.variants} has {sorted(variants)}")
        variants = {k: variants[k] for k in wanted}
    snapshot, split = convert.snapshot_and_split(args.dataset, args.data_dir, args.work_dir)
    features = cartograph_side.text_features(snapshot, args.work_dir / "cache" / "text", 1)
    for name, variant in variants.items():
        record = run_variant(args.dataset, name, variant, snapshot, split, features, args.data_dir)
        print(json.dumps(record), flush=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
