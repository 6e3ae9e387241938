"""How sure is each "Cartograph / best peer" ratio? A paired bootstrap over the test users of bench/peers' exports.

    .venv/bin/python bench/peers/significance.py       # after bench/peers.py; reads var/peers/out

Both datasets are leave-one-out: one test item per user, so a user's NDCG@20 is ``1 / log2(rank + 1)`` when the
item is in the top 20 (train and valid items excluded, as in the benchmark) and 0 otherwise. The mean of those
per-user figures is checked against :func:`cartograph_side.evaluate_export` (the benchmark's metric code), then
users are resampled with replacement (the same draw for both models, so the comparison is paired) and the
ratio of the two means is recomputed each time. Writes ``bench/results/peers_significance.{json,md}``: the ratio,
its 95% percentile interval, and the share of resamples in which it reaches the 1.10x target.
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

from gnn.data import GraphSnapshot, Split  # noqa: E402

K = 20
TARGET = 1.10


def per_user_ndcg(doc: dict[str, Any], snapshot: GraphSnapshot, split: Split) -> np.ndarray:
    """NDCG@20 of each test user (in ``split.test`` order) for one export."""
    rankings = cartograph_side.ids_to_rankings(doc["rankings"], snapshot, int(doc["top_k"]))
    seen: dict[int, set[int]] = {}
    for part in (split.train, split.valid):
        for u, p in part.T:
            seen.setdefault(int(u), set()).add(int(p))
    candidates = split.warm_mask & snapshot.active
    out = np.zeros(split.test.shape[1])
    for i, (u, p) in enumerate(split.test.T):
        ranked = [x for x in rankings[u] if x >= 0 and candidates[x] and x not in seen.get(int(u), ())][:K]
        if int(p) in ranked:
            out[i] = 1.0 / np.log2(ranked.index(int(p)) + 2)
    return out


def bootstrap_ratio(ours: np.ndarray, theirs: np.ndarray, *, resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Ratio of means, its 95% percentile interval and P(ratio >= TARGET) under a paired bootstrap of users."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ours), size=(resamples, len(ours)))
    ratios = ours[idx].mean(1) / np.maximum(theirs[idx].mean(1), 1e-12)
    return {"ratio": float(ours.mean() / theirs.mean()), "ci95_low": float(np.percentile(ratios, 2.5)),
            "ci95_high": float(np.percentile(ratios, 97.5)), "p_at_least_target": float((ratios >= TARGET).mean()),
            "p_above_1": float((ratios > 1.0).mean()), "resamples": resamples}


def analyse(dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    snapshot = convert.build_snapshot(dataset, args.data_dir, args.work_dir, ingest=False)
    split = convert.peer_split(snapshot)
    out_dir = args.work_dir / "out" / dataset
    per_model: dict[str, np.ndarray] = {}
    for path in sorted(out_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "rankings" not in doc:
            continue
        scores = per_user_ndcg(doc, snapshot, split)
        official = cartograph_side.evaluate_export(doc, snapshot, split)["ndcg@20"]
        if abs(scores.mean() - official) > 1e-6:
            raise RuntimeError(f"{dataset} {path.stem}: per-user NDCG@20 {scores.mean():.6f} != {official:.6f}")
        per_model[path.stem] = scores
    ours = per_model.pop("Cartograph")
    best = max(per_model, key=lambda m: per_model[m].mean())
    return {"dataset": dataset, "test_users": len(ours), "best_peer": best,
            "ndcg@20": {m: round(float(v.mean()), 6) for m, v in {"Cartograph": ours, **per_model}.items()},
            "vs_best_peer": bootstrap_ratio(ours, per_model[best], resamples=args.resamples)}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| dataset | test users | Cartograph NDCG@20 | best peer | ratio | 95% interval | P(ratio >= 1.10) "
             "| P(ratio > 1) |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        b = r["vs_best_peer"]
        best = f"{r['best_peer']} {r['ndcg@20'][r['best_peer']]:.4f}"
        lines.append(f"| {r['dataset']} | {r['test_users']} | {r['ndcg@20']['Cartograph']:.4f} | {best} "
                     f"| {b['ratio']:.2f}x | {b['ci95_low']:.2f}-{b['ci95_high']:.2f}x "
                     f"| {b['p_at_least_target']:.2f} | {b['p_above_1']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(convert.DATASETS))
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "peers")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    results = [analyse(ds, args) for ds in args.datasets.split(",")]
    (args.out / "peers_significance.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (args.out / "peers_significance.md").write_text("## Cartograph / best peer, NDCG@20: paired bootstrap over "
                                                    "test users\n\n" + table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
