"""The peers benchmark's Markdown tables and PNG chart, from the document ``bench/peers.py`` writes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
TARGET_RATIO = 1.10
CARTOGRAPH = "Cartograph"
#: Published on KGAT's Amazon-book split (../shared/data/README.md): (Recall@20, NDCG@20, source and NDCG code).
PUBLISHED_BOOK = (
    ("KGAT", 0.15026, 0.10160, "KGAT official log; KGAT's own NDCG code"),
    ("BPRMF", 0.1395, 0.0736, "KGAT-pytorch README"),
    ("FM", 0.1478, 0.0784, "KGAT-pytorch README"),
    ("CKE", 0.1394, 0.0733, "KGAT-pytorch README"),
    ("KGCL", 0.1496, 0.0791, "KGCL log"),
)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _rss(m: dict[str, Any]) -> str:
    """Peak RSS, only where it was measured per process (VmHWM): earlier runs read ru_maxrss, which a child
    process inherits from its parent, so their figures were the orchestrator's."""
    return f"{m['peak_rss_mb']:.0f}" if m.get("rss_source") and "peak_rss_mb" in m else "n/a"


def best_peer(models: dict[str, Any], metric: str) -> tuple[str, float] | None:
    """The peer (any model but Cartograph) with the highest ``metric``, or None when no peer finished."""
    peers = [(m["metrics"][metric], name) for name, m in models.items() if name != CARTOGRAPH and "metrics" in m]
    if not peers:
        return None
    value, name = max(peers)
    return name, value


def ratios(models: dict[str, Any]) -> dict[str, float | None]:
    """Cartograph's figure over the best peer's, per metric (None where either is missing or zero)."""
    out: dict[str, float | None] = {}
    ours = models.get(CARTOGRAPH, {}).get("metrics")
    for metric in METRICS:
        best = best_peer(models, metric)
        out[metric] = ours[metric] / best[1] if ours and best and best[1] > 0 else None
    return out


def dataset_table(name: str, entry: dict[str, Any]) -> str:
    models = entry["models"]
    lines = [
        "| model | " + " | ".join(METRICS) + " | train s | epochs run (best) | stopped by | peak RSS MB |",
        "|---|" + "---:|" * len(METRICS) + "---:|---:|---|---:|",
    ]
    for model, m in models.items():
        if "metrics" not in m:
            lines.append(f"| {model} | {m.get('error', 'failed')[:110]} |" + " |" * (len(METRICS) + 3))
            continue
        label = f"**{model}**" if model == CARTOGRAPH else model
        if m.get("reused"):
            label += " (earlier run)"
        lines.append(
            f"| {label} | " + " | ".join(_fmt(m["metrics"][k]) for k in METRICS)
            + f" | {m['train_seconds']:.0f} | {m.get('epochs_run', '-')} ({m.get('best_epoch', '-')})"
            + f" | {m.get('stopped_by', '-')} | {_rss(m)} |"
        )
    r = ratios(models)
    lines.append("| Cartograph / best peer | " + " | ".join(
        f"{_fmt(r[k], 2)}x" if r[k] is not None else "-" for k in METRICS) + " | | | | |")
    best = best_peer(models, "ndcg@20")
    verdict = ""
    if r["ndcg@20"] is not None and best is not None:
        met = r["ndcg@20"] >= TARGET_RATIO
        verdict = (f"\n\nTarget (Cartograph >= {TARGET_RATIO:.2f}x the best peer's NDCG@20, here {best[0]}): "
                   f"**{'met' if met else 'not met'}** ({r['ndcg@20']:.2f}x).")
    split = entry.get("split", {})
    head = (f"### {name}: test, full ranking over {split.get('products', '?')} items, "
            f"{split.get('split', {}).get('test', '?')} test users\n\n")
    return head + "\n".join(lines) + verdict


def book_table(entry: dict[str, Any]) -> str:
    m = entry["metrics"]
    lines = ["| model | Recall@20 | NDCG@20 (standard: ideal = min(#test items, 20) hits) | NDCG@20 (KGAT code) "
             "| source |",
             "|---|---:|---:|---:|---|",
             f"| **{entry['model']}** | {_fmt(m['recall@20'])} | {_fmt(m['ndcg@20'])} | "
             f"{_fmt(entry['ndcg@20_kgat_code'])} | this run: {entry['train_seconds']:.0f} s training, "
             f"{entry['epochs_run']} epochs (best {entry['best_epoch']}), peak RSS {_rss(entry)} MB |"]
    for name, recall, ndcg, source in PUBLISHED_BOOK:
        kgat_code = name == "KGAT"
        lines.append(f"| {name} | {recall:.4f} | {'-' if kgat_code else f'{ndcg:.4f}'} | "
                     f"{f'{ndcg:.4f}' if kgat_code else '-'} | published ({source}) |")
    best_recall = max(r for _, r, _, _ in PUBLISHED_BOOK)
    return ("### amazon-book-kgat: KGAT's published split (interactions only: no KG, no text here)\n\n"
            + "\n".join(lines)
            + f"\n\nRecall@20: Cartograph / best published = {m['recall@20'] / best_recall:.2f}x. "
            + entry.get("split_note", ""))


def markdown(doc: dict[str, Any]) -> str:
    parts = [f"## Cartograph vs RecBole peers{' (QUICK MODE: 1-2 epochs, not results)' if doc.get('quick') else ''}",
             f"Machine: {doc.get('machine', {}).get('cpus', '?')} CPU cores, {doc.get('threads', '?')} torch threads; "
             f"whole run {doc.get('wall_seconds', 0) / 60:.0f} min."]
    for name, entry in doc.get("datasets", {}).items():
        parts.append(dataset_table(name, entry))
    if "amazon-book-kgat" in doc:
        parts.append(book_table(doc["amazon-book-kgat"]))
    return "\n\n".join(parts) + "\n"


def chart(doc: dict[str, Any], path: Path) -> None:
    """Grouped bars: NDCG@20 and Recall@20 of every model, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(doc.get("datasets", {}).items())
    fig, axes = plt.subplots(1, max(len(datasets), 1), figsize=(6.5 * max(len(datasets), 1), 4.2), squeeze=False)
    for ax, (name, entry) in zip(axes[0], datasets, strict=False):
        models = [(k, v) for k, v in entry["models"].items() if "metrics" in v]
        xs = range(len(models))
        width = 0.4
        for offset, metric, color in ((-width / 2, "ndcg@20", "#1f77b4"), (width / 2, "recall@20", "#ff7f0e")):
            values = [v["metrics"][metric] for _, v in models]
            bars = ax.bar([x + offset for x in xs], values, width, label=metric, color=color)
            for bar, (model, _) in zip(bars, models, strict=True):
                if model == CARTOGRAPH:
                    bar.set_edgecolor("black")
                    bar.set_linewidth(1.5)
        ax.set_xticks(list(xs), [k for k, _ in models], rotation=30, ha="right")
        ax.set_title(f"{name}{' (quick)' if doc.get('quick') else ''}")
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
