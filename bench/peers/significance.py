"""Per-user test metrics of every export, mean and spread over seeds, and paired bootstrap intervals for
Cartograph's ratio to every other row.

    .venv/bin/python bench/peers/significance.py       # after bench/peers.py: re-reads var/peers/out

Every split but amazon-book-kgat's is leave-one-out: one test item per user, so a user's NDCG@k is
``1 / log2(rank + 1)`` when the item is in the top k (train and valid items excluded, as in the benchmark) and
0 otherwise; on amazon-book-kgat a user's several test items give the usual NDCG@k. The mean of those
per-user figures is checked against :func:`cartograph_side.evaluate_export` (the benchmark's metric code). A
row trained with several seeds is represented, per user, by the mean over its seeds. Users are then resampled
with replacement (the same draw for both rows, so the comparison is paired) and the ratio of the two means
recomputed each time: the ratio, its 95% percentile interval, the share of resamples at or above the 1.10x
target and above 1. Writes ``bench/results/peers_significance.{json,md}`` when run on its own; ``bench/peers.py``
puts the same figures in ``peers.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import cartograph_side  # noqa: E402
import convert  # noqa: E402
from report import interval_text  # noqa: E402

from gnn.data import GraphSnapshot, Split  # noqa: E402
from gnn.metrics import per_user_metric  # noqa: E402

K = 10
TARGET = 1.10
#: Rows compared to Cartograph but never "the best peer": sanity baselines and Cartograph's own candidates.
SANITY = (cartograph_side.POPULARITY, cartograph_side.LOOKUP)
METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")


def per_user_ndcg(doc: dict[str, Any], snapshot: GraphSnapshot, split: Split, k: int = K) -> np.ndarray:
    """NDCG@k of each test user (in index order; a user with several test items counts once) for one export."""
    rankings = cartograph_side.ids_to_rankings(doc["rankings"], snapshot, int(doc["top_k"]))
    seen: dict[int, set[int]] = {}
    for part in (split.train, split.valid):
        for u, p in part.T:
            seen.setdefault(int(u), set()).add(int(p))
    candidates = split.warm_mask & snapshot.active
    masked = np.full((rankings.shape[0], k), -1, dtype=np.int64)
    for u in np.unique(split.test[0]):
        ranked = [x for x in rankings[u] if x >= 0 and candidates[x] and x not in seen.get(int(u), ())][:k]
        masked[u, :len(ranked)] = ranked
    return per_user_metric(masked, split.test, f"ndcg@{k}")[1]  # the benchmark's definition, users in index order


def resampled_ratios(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` of each resample's means: infinite where only the denominator is 0, 1 where both are."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 1.0))


def bootstrap_ratio(ours: np.ndarray, theirs: np.ndarray, *, resamples: int = 2000,
                    seed: int = 0) -> dict[str, float | None]:
    """Ratio of means, its 95% percentile interval and P(ratio >= TARGET) under a paired bootstrap of users.

    A resample in which the other model scores 0 has an infinite ratio (0 / 0 counts as 1); when more than
    2.5% of them do, the interval has no upper end: ``ci95_high`` is None (said "unbounded"), never a huge
    number made up by a floor on the denominator."""
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, resamples, 100):  # 100 resamples at a time: 22k users x 2000 would be 350 MB an array
        idx = rng.integers(0, len(ours), size=(min(100, resamples - start), len(ours)))
        chunks.append(resampled_ratios(ours[idx].mean(1), theirs[idx].mean(1)))
    ratios = np.concatenate(chunks)
    high = float(np.percentile(ratios, 97.5))
    return {"ratio": float(ours.mean() / theirs.mean()), "ci95_low": float(np.percentile(ratios, 2.5)),
            "ci95_high": high if np.isfinite(high) else None, "p_at_least_target": float((ratios >= TARGET).mean()),
            "p_above_1": float((ratios > 1.0).mean()), "resamples": resamples}


_KEEP = ("kind", "train_seconds", "seconds_per_epoch", "epochs_run", "best_epoch", "stopped_by", "converged",
         "peak_rss_mb", "rss_source", "served_kind", "selection", "candidates_seconds", "text_seconds", "refit", "note",
         "test_input", "params", "recbole_best_valid", "own_metrics")


def _seed_summary(doc: dict[str, Any], metrics: dict[str, float], train_input: dict[str, float] | None
                  ) -> dict[str, Any]:
    out = {"seed": doc.get("seed"), "metrics": metrics, **{k: doc[k] for k in _KEEP if k in doc}}
    if isinstance(out.get("refit"), dict):
        out["refit"] = {k: v for k, v in out["refit"].items() if k != "rankings"}
    if train_input is not None:
        out["metrics_train_input"] = train_input  # a graph peer's early-stopped model, valid not read
    return out


def collect(out_dir: Path, dataset: str, snapshot: GraphSnapshot, split: Split, rows: list[str],
            plan: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """Every row's exports under ``out_dir/<dataset>/<row>/seed*.json``: per-seed metrics (the benchmark's
    metric code), their mean and standard deviation, convergence, and the per-user NDCG@10 (mean over seeds).
    ``rows`` first (in that order), then every other row found there (Cartograph's candidates, sanity rows)."""
    base = out_dir / dataset
    found = sorted(d.name for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    names = [*rows, *[n for n in found if n not in rows]]
    models = (plan or {}).get("models", {})
    out: dict[str, Any] = {}
    for name in names:
        paths = sorted((base / name).glob("seed*.json")) if (base / name).is_dir() else []
        if not paths:
            out[name] = {"error": (errors or {}).get(name, "no export")}
            continue
        seeds, per_user = [], []
        for path in paths:
            doc = json.loads(path.read_text(encoding="utf-8"))
            metrics = cartograph_side.evaluate_export(doc, snapshot, split)
            scores = per_user_ndcg(doc, snapshot, split)
            if abs(scores.mean() - metrics["ndcg@10"]) > 1e-6:
                raise RuntimeError(f"{path}: per-user NDCG@10 {scores.mean():.6f} != {metrics['ndcg@10']:.6f}")
            train_input = None
            if "rankings_train_input" in doc:
                train_input = cartograph_side.evaluate_export({**doc, "rankings": doc["rankings_train_input"]},
                                                              snapshot, split)
            seeds.append(_seed_summary(doc, metrics, train_input))
            per_user.append(scores)
        table = np.array([[s["metrics"][m] for m in METRICS] for s in seeds])
        kind = seeds[0].get("kind") or models.get(name, {}).get("kind") or \
            ("sanity" if name in SANITY else "cartograph")
        out[name] = {
            "kind": kind, "source": models.get(name, {}).get("source"), "seeds": seeds,
            "mean": dict(zip(METRICS, table.mean(0).tolist(), strict=True)),
            "std": dict(zip(METRICS, table.std(0, ddof=1).tolist() if len(seeds) > 1 else [0.0] * 4, strict=True)),
            "converged": all(s.get("converged", True) for s in seeds),
            "per_user_ndcg@10": np.mean(per_user, axis=0).round(6).tolist(),
        }
        if name in (errors or {}):
            out[name]["error_some_seeds"] = errors[name]  # type: ignore[index]
    return out


def save_per_user(rows: dict[str, Any], path: Path) -> None:
    """Each row's per-user NDCG@10 (test users in index order, mean over seeds) in one compressed ``.npz``: what
    a paired interval needs, kept with the results so that it outlives the exports of the machine that made them
    (22k users a row on amazon-beauty: the exports are tens of MB and stay in the work folder)."""
    arrays = {name: np.asarray(row["per_user_ndcg@10"], dtype=np.float32)
              for name, row in rows.items() if "per_user_ndcg@10" in row}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def restore_rows(rows: dict[str, Any], previous: dict[str, Any], path: Path) -> list[str]:
    """Rows with no export here (``{"error": "no export"}``) that an earlier report of the same split has, with
    their per-user NDCG@10 from its :func:`save_per_user` archive: put back, marked ``from_archive``, so that
    Cartograph's ratio to them keeps its paired interval. Returns the names restored."""
    if not path.is_file():
        return []
    restored = []
    with np.load(path) as archive:
        for name, old in previous.items():
            gone = name not in rows or rows[name].get("error") == "no export"
            if gone and "mean" in old and name in archive:
                rows[name] = {**old, "per_user_ndcg@10": archive[name].astype(np.float64).tolist(),
                              "from_archive": path.name}
                restored.append(name)
    return restored


def best_peer(rows: dict[str, Any], *, converged_only: bool = False) -> str | None:
    """The RecBole peer with the highest mean test NDCG@10 (optionally among those that converged)."""
    peers = [(r["mean"]["ndcg@10"], name) for name, r in rows.items()
             if "mean" in r and r["kind"] in ("graph", "sequential") and (r["converged"] or not converged_only)]
    return max(peers)[1] if peers else None


def compare(rows: dict[str, Any], *, resamples: int = 2000) -> dict[str, Any]:
    """Cartograph's NDCG@10 ratio to every other row (paired bootstrap over test users), and which peer is best
    (among all peers, and among the converged ones)."""
    ours = rows.get(cartograph_side.SERVED, {})
    if "per_user_ndcg@10" not in ours:
        return {"error": "no Cartograph export"}
    mine = np.array(ours["per_user_ndcg@10"])
    out: dict[str, Any] = {"metric": "ndcg@10", "best_peer": best_peer(rows),
                           "best_converged_peer": best_peer(rows, converged_only=True), "vs": {}}
    for name, row in rows.items():
        if name != cartograph_side.SERVED and "per_user_ndcg@10" in row and np.mean(row["per_user_ndcg@10"]) > 0:
            out["vs"][name] = bootstrap_ratio(mine, np.array(row["per_user_ndcg@10"]), resamples=resamples)
    return out


def markdown(results: dict[str, dict[str, Any]]) -> str:
    """One line per (dataset, row): Cartograph's NDCG@10 ratio, its interval and probabilities."""
    lines = ["| dataset | Cartograph / row (NDCG@10) | ratio | 95% interval | P(ratio >= 1.10) | P(ratio > 1) |",
             "|---|---|---:|---:|---:|---:|"]
    for dataset, sig in results.items():
        for name, b in sig.get("vs", {}).items():
            mark = " (best peer)" if name == sig.get("best_peer") else ""
            lines.append(f"| {dataset} | {name}{mark} | {b['ratio']:.2f}x | {interval_text(b, unit='x')} "
                         f"| {b['p_at_least_target']:.2f} | {b['p_above_1']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="ml-100k-kg,amazon-beauty")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    results = {}
    for dataset in [d for d in args.datasets.split(",") if d]:
        snapshot, split = convert.snapshot_and_split(dataset, args.data_dir, args.work_dir)
        rows = collect(args.work_dir / "out", dataset, snapshot, split, [cartograph_side.SERVED])
        results[dataset] = compare(rows, resamples=args.resamples)
    (args.out / "peers_significance.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (args.out / "peers_significance.md").write_text("## Cartograph / each row, test NDCG@10: paired bootstrap over "
                                                    "test users (per-user mean over seeds)\n\n" + table,
                                                    encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
