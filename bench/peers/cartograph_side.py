"""Cartograph's side of the peers benchmark: train on the peers' split, export rankings, or evaluate any model's.

Runs in Cartograph's venv, in a process of its own per training (``bench/peers.py`` starts it) so that the
peak memory it reports is that training's. Jobs:

- :func:`train_cartograph`: the model ``cartograph train`` serves: :class:`~gnn.config.TrainConfig`'s
  defaults (``model="auto"``: every candidate trained and the best on validation NDCG@10 served, through
  :func:`gnn.pipeline.train_all`, as ``bench/quality.py --variant standard`` runs it), on exactly the split
  written for RecBole and the snapshot ``bench/datasets.py`` makes; each test user's top ``top_k`` products
  (test-phase vectors: the model reads train + valid), train and valid items excluded: the same export as
  the peers'. Beside it, one export per other candidate, and two sanity rows: popularity (the candidate) and,
  where the dataset has co-purchase lists, the co-purchase lookup (``bench/copurchase_lookup.py``, which
  knows the future).
- :func:`train_amazon_book`: Cartograph (the same default config) on KGAT's Amazon-book train/test split.
- :func:`evaluate_export`: Recall/NDCG@10/20 (and hit@10, MRR@K, coverage@10) of any exported ranking with
  :func:`gnn.metrics.evaluate_rankings`: one metric implementation for every model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for _p in (ROOT, ROOT / "bench", HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import convert  # noqa: E402
from copurchase_lookup import lookup_score_fn  # noqa: E402

from gnn.config import TrainConfig  # noqa: E402
from gnn.data import GraphSnapshot, Split  # noqa: E402
from gnn.metrics import ScoreFn, evaluate_rankings, top_k_rankings  # noqa: E402
from gnn.pipeline import text_features as pipeline_text_features  # noqa: E402
from gnn.pipeline import train_all  # noqa: E402
from gnn.prepared import Prepared, prepare_split  # noqa: E402
from gnn.train import TrainResult, peak_rss_mb  # noqa: E402
from kg.text import TextEncoder  # noqa: E402

CONFIG_DIR = ROOT / "bench" / "configs"
#: Row names of the exports the cartograph job writes beside the served model's.
SERVED, POPULARITY, LOOKUP = "Cartograph", "Popularity", "Co-purchase lookup"


def load_config(dataset: str, *, epochs: int | None = None, threads: int = 2) -> TrainConfig:
    """``bench/configs/<dataset>.json`` with no cold products (the peers cannot rank them) and ``threads``;
    ``epochs`` caps the config's epochs (the benchmark's time plan)."""
    path = CONFIG_DIR / f"{dataset}.json"
    cfg = TrainConfig.load(path) if path.is_file() else TrainConfig()
    update: dict[str, Any] = {"cold_fraction": 0.0, "num_threads": threads}
    if epochs is not None:
        update["epochs"] = min(epochs, cfg.epochs)
    return cfg.model_copy(update=update)


def text_features(snapshot: GraphSnapshot, cache_dir: Path, threads: int) -> dict[str, np.ndarray]:
    """Product text embeddings (MiniLM, cached); entity text only where entities have names (ml-100k's
    Freebase entities are bare ids: they get learned embeddings instead)."""
    from kg.text import TextEncoder

    encoder = TextEncoder(cache_dir=cache_dir, num_threads=threads)
    features = {"product": encoder.encode(snapshot.product_texts())}
    if snapshot.num_nodes("entity") and any(snapshot.names["entity"]):
        features["entity"] = encoder.encode(snapshot.entity_texts())
    return features


def export_rankings(prepared: Prepared, score: ScoreFn, top_k: int) -> np.ndarray:
    """``[num_users, top_k]`` product indexes for the test users (``-1`` rows for the others), ranked by
    ``score`` with the exclusions and candidates of the test evaluation (:func:`gnn.evaluation.evaluate_phases`)."""
    split, snapshot = prepared.split, prepared.snapshot
    return top_k_rankings(score, np.unique(split.test[0]), split.num_users, split.num_products, top_k,
                          exclude=[split.train, split.valid], candidates=split.warm_mask & snapshot.active)


def result_score(result: TrainResult) -> ScoreFn:
    """A trained model's test scores: its test-phase vectors (train + valid read as input)."""
    return result.test_score_fn()


def rankings_to_ids(rankings: np.ndarray, snapshot: GraphSnapshot) -> dict[str, list[str]]:
    users, products = snapshot.ids["user"], snapshot.ids["product"]
    return {users[u]: [products[p] for p in row if p >= 0] for u, row in enumerate(rankings.tolist())
            if row[0] >= 0}


def ids_to_rankings(by_user: dict[str, list[str]], snapshot: GraphSnapshot, top_k: int) -> np.ndarray:
    """Exported id lists -> ``[num_users, top_k]`` product indexes (``-1`` padded); unknown ids are an error."""
    u_index, p_index = snapshot.index("user"), snapshot.index("product")
    out = np.full((snapshot.num_users, top_k), -1, dtype=np.int64)
    for user, items in by_user.items():
        row = [p_index[i] for i in items[:top_k]]
        out[u_index[user], :len(row)] = row
    return out


def default_config(*, seed: int = 0, threads: int = 2, epochs: int | None = None) -> TrainConfig:
    """:class:`TrainConfig`'s defaults (what ``cartograph train`` runs) with the run's seed and threads;
    ``epochs`` only for the pipeline check (``--quick``)."""
    update: dict[str, Any] = {"seed": seed, "num_threads": threads, **({"epochs": epochs} if epochs else {})}
    return TrainConfig().model_copy(update=update)


def _stopped_by(result: TrainResult) -> str:
    if result.stopped_by == "epoch cap":
        return f"epoch cap ({result.config.epochs}): did not converge, lower bound"
    if result.stopped_by == "pruned":
        return f"stopped behind the leading candidate at epoch {len(result.history)}: lower bound"
    if result.stopped_by in ("closed form", "not trained"):
        return result.stopped_by  # EASE's solve, popularity: no epochs to stop
    return "early stopping"


def export_doc(name: str, dataset: str, prepared: Prepared, score: ScoreFn, top_k: int,
               result: TrainResult | None = None, **extra: Any) -> dict[str, Any]:
    """One row's export document (the shape ``run_recbole_models.py`` writes for a peer)."""
    rankings = export_rankings(prepared, score, top_k)
    doc: dict[str, Any] = {"model": name, "dataset": dataset, "top_k": top_k,
                           "rankings": rankings_to_ids(rankings, prepared.snapshot), **extra}
    if result is not None:
        doc.update(train_seconds=round(result.train_seconds, 2), epochs_run=len(result.history),
                   best_epoch=result.best_epoch, own_metrics=result.metrics, history=result.history,
                   config=result.config.model_dump(),
                   seconds_per_epoch=round(result.train_seconds / max(len(result.history), 1), 2),
                   stopped_by=_stopped_by(result),
                   converged=result.stopped_by in ("early stopping", "not trained", "closed form"))
    return doc


def train_cartograph(dataset: str, data_dir: Path, work_dir: Path, *, seed: int, epochs: int | None,
                     threads: int, top_k: int, copurchase: bool = False,
                     candidates: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Train what ``cartograph train`` serves on the written split; returns ``row name -> export document``
    (see the module docstring). ``candidates``: fewer than the default's (a run that cannot afford every one:
    the served row then says which were trained)."""
    import datasets

    snapshot, split = convert.snapshot_and_split(dataset, data_dir, work_dir)
    written = convert.read_split(work_dir / dataset, dataset, snapshot)
    for part in convert.PARTS:  # the files RecBole reads must be this very split
        if not convert.same_pairs(written[part], getattr(split, part)):
            raise RuntimeError(f"{dataset}: {part} differs from the files in {work_dir / dataset}; re-run convert")
    cfg = default_config(seed=seed, threads=threads, epochs=epochs).model_copy(update={"copurchase": copurchase})
    if candidates:
        cfg = TrainConfig.model_validate({**cfg.model_dump(), "candidates": candidates})
    t = time.perf_counter()
    has_text = any(t.strip() for t in snapshot.titles)
    encoder = TextEncoder(cache_dir=work_dir / "cache" / "text", num_threads=threads)
    features = pipeline_text_features(snapshot, encoder) if has_text else None
    text_s = time.perf_counter() - t
    prepared = prepare_split(snapshot, split, features, cfg)
    # The candidates are rows of the table ("never below the best baseline the run trains"): each trains to
    # early stopping, none cut short behind the leader as `cartograph train` would (prune_ratio).
    main, others, selection = train_all(prepared, cfg, baselines=tuple(cfg.candidates), progress=False)
    common = {"seed": seed, "threads": threads, "peak_rss_mb": round(peak_rss_mb(), 1), "rss_source": "VmHWM"}
    docs = {SERVED: export_doc(SERVED, dataset, prepared, result_score(main), top_k, main, **common,
                               served_kind=main.config.model, text_seconds=round(text_s, 2),
                               selection=selection.to_dict() if selection else None,
                               candidates=list(cfg.candidates), default_candidates=not candidates,
                               candidates_seconds=round(sum(r.train_seconds for r in others.values()), 2))}
    for kind, result in others.items():
        name = POPULARITY if kind == "popularity" else f"{SERVED} candidate {kind}"
        docs[name] = export_doc(name, dataset, prepared, result_score(result), top_k, result, **common)
    if dataset in datasets.WITH_COPURCHASE:
        docs[LOOKUP] = export_doc(LOOKUP, dataset, prepared, lookup_score_fn(snapshot, split, "test"), top_k,
                                  note="knows the future: co-purchase lists crawled after the interactions",
                                  seed=seed, train_seconds=0.0, converged=True)
    return docs


def evaluate_export(doc: dict[str, Any], snapshot: GraphSnapshot, split: Split) -> dict[str, float]:
    """Test metrics of an exported ranking (Cartograph's or a peer's), by :func:`gnn.metrics.evaluate_rankings`."""
    rankings = ids_to_rankings(doc["rankings"], snapshot, int(doc["top_k"]))
    return evaluate_rankings(rankings, split.test, snapshot.num_products, exclude=[split.train, split.valid],
                             candidates=split.warm_mask & snapshot.active)


# -- amazon-book-kgat ------------------------------------------------------------------------------------


def _read_lists(path: Path) -> list[tuple[int, list[int]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        values = [int(v) for v in line.split()]
        if values:
            out.append((values[0], values[1:]))
    return out


def amazon_book_split(src: Path, *, valid_users: int = 10_000, seed: int = 0) -> tuple[GraphSnapshot, Split]:
    """KGAT's Amazon-book split as a snapshot (users and items by remap id, no text, no KG) and a :class:`Split`.

    ``test`` is ``test.txt`` as published. KGAT has no validation set; for early stopping one train item of
    each of ``valid_users`` seeded users (with at least 3 train items) is held out as ``valid`` (not trained
    on); it is excluded from the test ranking like every train item, as in KGAT's protocol.
    """
    train_rows, test_rows = _read_lists(src / "train.txt"), _read_lists(src / "test.txt")
    num_users = 1 + max(u for u, _ in train_rows + test_rows)
    num_items = 1 + max(i for _, items in train_rows + test_rows for i in items)

    def pairs(rows: list[tuple[int, list[int]]]) -> np.ndarray:
        return np.array([(u, i) for u, items in rows for i in dict.fromkeys(items)], dtype=np.int64).T.reshape(2, -1)

    train, test = pairs(train_rows), pairs(test_rows)
    rng = np.random.default_rng(seed)
    eligible = [u for u, items in train_rows if len(set(items)) >= 3]
    chosen = set(rng.choice(eligible, size=min(valid_users, len(eligible)), replace=False).tolist())
    held = {u: int(rng.choice(sorted(set(items)))) for u, items in train_rows if u in chosen}
    is_valid = np.array([held.get(u) == i for u, i in train.T.tolist()], dtype=bool)
    valid, train = train[:, is_valid], train[:, ~is_valid]
    # Ids are the remap ids as strings; GraphSnapshot wants its ids sorted, so index = position in that order.
    user_ids, item_ids = sorted(str(u) for u in range(num_users)), sorted(str(i) for i in range(num_items))
    u_pos, i_pos = _positions(user_ids, num_users), _positions(item_ids, num_items)
    train, valid, test = (np.stack([u_pos[p[0]], i_pos[p[1]]]) for p in (train, valid, test))
    every = np.concatenate([train, valid, test], axis=1)
    empty = np.zeros((2, 0), dtype=np.int64)
    n = every.shape[1]
    snapshot = GraphSnapshot(
        ids={"user": user_ids, "product": item_ids, "brand": [], "category": [], "entity": []},
        names={"user": [], "product": [], "brand": [], "category": [], "entity": []},
        titles=[""] * num_items, descriptions=[""] * num_items, text_hashes=[""] * num_items,
        active=np.ones(num_items, dtype=bool), inter_user=every[0].copy(), inter_product=every[1].copy(),
        inter_ts=np.zeros(n, np.int64), inter_seq=np.zeros(n, np.int64), inter_count=np.ones(n, np.int64),
        inter_kind=np.zeros(n, np.int8), item_edges={name: empty.copy() for name in convert.ITEM_RELATIONS},
    )
    snapshot.snapshot_id = snapshot.compute_id()
    split = Split(train=train, valid=valid, test=test, cold=empty.copy(), cold_products=np.zeros(0, np.int64),
                  num_users=num_users, num_products=num_items, seed=seed, cold_fraction=0.0,
                  meta={"valid": f"one train item of {len(chosen)} seeded users, held out"})
    return snapshot, split


def _positions(sorted_ids: list[str], n: int) -> np.ndarray:
    where = {v: i for i, v in enumerate(sorted_ids)}
    return np.array([where[str(k)] for k in range(n)], dtype=np.int64)


def kgat_ndcg(rankings: np.ndarray, positives: np.ndarray, k: int) -> float:
    """NDCG@k as KGAT's official code computes it: the ideal DCG is that of the *retrieved* hits moved to the
    top (``dcg_at_k(sorted(r, reverse=True))``), not of ``min(#positives, k)`` hits; users without a hit score 0.
    It is higher than the usual NDCG whenever a user has more positives than hits."""
    pos_by_user: dict[int, set[int]] = {}
    for u, i in positives.T.tolist():
        pos_by_user.setdefault(u, set()).add(i)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for u, items in pos_by_user.items():
        hits = np.array([1.0 if p in items else 0.0 for p in rankings[u, :k]])
        if hits.sum():
            total += float((hits * discounts).sum() / discounts[: int(hits.sum())].sum())
    return total / max(len(pos_by_user), 1)


def train_amazon_book(data_dir: Path, *, epochs: int | None, threads: int) -> dict[str, Any]:
    """Cartograph (the default config, interactions only) on KGAT's Amazon-book split; test metrics both ways."""
    snapshot, split = amazon_book_split(data_dir / "amazon-book-kgat")
    cfg = default_config(threads=threads, epochs=epochs)
    prepared = prepare_split(snapshot, split, None, cfg)
    # Hours on a CPU: the epochs are shown as they go (the log of bench/peers.py).
    result, _, selection = train_all(prepared, cfg, baselines=(), progress=True)
    rankings = export_rankings(prepared, result_score(result), 20)
    metrics = evaluate_rankings(rankings, split.test, split.num_products, exclude=[split.train, split.valid])
    return {
        "model": f"Cartograph ({result.config.model})", "dataset": "amazon-book-kgat", "config": cfg.model_dump(),
        "selection": selection.to_dict() if selection else None,
        "split": split.summary(), "split_note": split.meta["valid"], "train_seconds": round(result.train_seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1), "rss_source": "VmHWM", "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "metrics": metrics, "ndcg@20_kgat_code": kgat_ndcg(rankings, split.test, 20), "own_metrics": result.metrics,
        "history": result.history,
    }


def export_path(out_dir: Path, dataset: str, row: str, seed: int) -> Path:
    """Where a row's export for one seed lives: ``<out>/<dataset>/<row>/seed<seed>.json`` (as for the peers)."""
    return out_dir / dataset / row / f"seed{seed}.json"


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", choices=("cartograph", "amazon-book"))
    ap.add_argument("--dataset", choices=convert.DATASETS)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--epochs", type=int, help="epoch cap: the pipeline check only (--quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--copurchase", action="store_true", help="co-purchase lists as graph edges (know the future)")
    ap.add_argument("--candidates", help="cartograph: the candidates to train, comma-separated (default: "
                    "TrainConfig's); fewer only where a run cannot afford them all")
    ap.add_argument("--out", type=Path, required=True,
                    help="cartograph: the exports folder (<out>/<dataset>/<row>/seed<seed>.json); amazon-book: a file")
    args = ap.parse_args(argv)
    if args.job == "cartograph":
        if args.dataset is None:
            ap.error("--dataset is required for the cartograph job")
        docs = train_cartograph(args.dataset, args.data_dir, args.work_dir, seed=args.seed, epochs=args.epochs,
                                threads=args.threads, top_k=args.top_k, copurchase=args.copurchase,
                                candidates=[c for c in (args.candidates or "").split(",") if c] or None)
        for row, doc in docs.items():
            path = export_path(args.out, args.dataset, row, args.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, default=float) + "\n", encoding="utf-8")
        served = docs[SERVED]
        print(f"Cartograph on {args.dataset} (seed {args.seed}): served {served['served_kind']}, "
              f"{served['train_seconds']:.0f} s (+{served['candidates_seconds']:.0f} s other candidates)",
              file=sys.stderr)
        return 0
    doc = train_amazon_book(args.data_dir, epochs=args.epochs, threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, default=float) + "\n", encoding="utf-8")
    print(f"{doc['model']} on {doc['dataset']}: {doc['train_seconds']:.0f} s, peak RSS {doc['peak_rss_mb']:.0f} MB",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
