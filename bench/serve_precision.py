"""What reading the served product table in float16 changes: top-k lists and time, on a real bundle.

    .venv/bin/python bench/serve_precision.py [--home var/bench-serve/amazon-beauty-kg_sasrec] [--k 10]

The API scores a recommendation with one matrix-vector product over every product
(:meth:`api.serving.index.ServingIndex.model_scores`), reading the ``[P, d]`` table in float16. For every user
vector the bundle stores, this compares the top ``k`` of that product with the float32 one: lists identical in
order, identical as sets, the mean overlap, and how far the float16 scores move (relative to the user's largest
score). It also times both products, one user at a time on one thread (the floor of a request, as
``bench/serve.py`` measures it). Writes ``bench/results/serve_precision.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.serving.index import HALF_LIMIT  # noqa: E402
from gnn.bundle import load_bundle  # noqa: E402


def top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    return scores.topk(k, dim=1).indices


def compare(products: np.ndarray, users: np.ndarray, k: int, batch: int = 1024) -> dict[str, float]:
    """Top-``k`` agreement of float16 and float32 scores over every row of ``users``."""
    full, half = torch.from_numpy(products), torch.from_numpy(products.astype(np.float16))
    same_order = same_set = overlap = 0.0
    worst = []
    for start in range(0, len(users), batch):
        u = torch.from_numpy(users[start:start + batch])
        exact = u @ full.T
        # The API's product: float16 table and vector, one user at a time (torch.mv); batched here as a
        # matrix product of the same float16 operands, row by row the same sums.
        approx = torch.stack([torch.mv(half, row.half()).float() for row in u])
        a, b = top_k(exact, k), top_k(approx, k)
        same_order += float((a == b).all(dim=1).sum())
        sa, sb = a.sort(dim=1).values, b.sort(dim=1).values
        same_set += float((sa == sb).all(dim=1).sum())
        overlap += float(sum(len(set(x) & set(y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)))
        scale = exact.abs().amax(dim=1).clamp_min(1e-12)
        worst.append(((approx - exact).abs().amax(dim=1) / scale).numpy())
    n = len(users)
    moved = np.concatenate(worst)
    return {"users": n, "k": k, "same_order": same_order / n, "same_set": same_set / n,
            "mean_overlap": overlap / (n * k), "max_relative_move_p50": float(np.median(moved)),
            "max_relative_move_max": float(moved.max())}


def timing(products: np.ndarray, vector: np.ndarray, repeats: int = 500) -> dict[str, dict[str, float]]:
    """p50 / p99 ms of the float32 (numpy, as before) and float16 (torch.mv) products, one user at a time."""
    half = torch.from_numpy(products.astype(np.float16))
    cases = {"float32": lambda: products @ vector,
             "float16": lambda: torch.mv(half, torch.from_numpy(vector.astype(np.float16))).float().numpy()}
    out = {}
    for name, run in cases.items():
        for _ in range(20):
            run()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            run()
            times.append((time.perf_counter() - t) * 1e3)
        out[name] = {"p50_ms": round(float(np.percentile(times, 50)), 3),
                     "p99_ms": round(float(np.percentile(times, 99)), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=ROOT / "var" / "bench-serve" / "amazon-beauty-kg_sasrec")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve_precision.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.home / "artifacts")
    products = np.ascontiguousarray(bundle.product_embeddings, dtype=np.float32)
    users = np.ascontiguousarray(bundle.user_embeddings, dtype=np.float32)
    if max(np.abs(products).max(), np.abs(users).max()) >= HALF_LIMIT:
        raise SystemExit("this bundle's vectors exceed the float16 limit: the API scores it in float32")
    doc = {"bundle": bundle.version, "model": bundle.config.model, "products": products.shape[0],
           "dim": products.shape[1], "agreement": compare(products, users, args.k),
           "timing_one_thread": timing(products, users[0])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
