"""The search benchmark's targets (issue 17) and its Markdown tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

_PEERS = Path(__file__).resolve().parent / "peers"
if str(_PEERS) not in sys.path:
    sys.path.insert(0, str(_PEERS))
from significance import bootstrap_ratio  # noqa: E402  (bench/peers: the same paired bootstrap as every ratio)

METRICS = ("ndcg@10", "p@5", "p@5_es", "mrr", "recall@50")
SINGLE_RETRIEVERS = ("bm25", "dense")


def paired_ratio(res: dict[str, Any], ours: str, theirs: str) -> dict[str, Any]:
    """nDCG@10 of row ``ours`` / row ``theirs`` with a 95% paired bootstrap interval over the judged queries."""
    a, b = res[ours]["per_query_ndcg@10"], res[theirs]["per_query_ndcg@10"]
    common = sorted(set(a) & set(b))
    return bootstrap_ratio(np.array([a[q] for q in common]), np.array([b[q] for q in common]))


def _ratio_text(r: dict[str, Any]) -> str:
    high = f"{r['ci95_high']:.2f}" if r["ci95_high"] is not None else "unbounded"
    return f"{r['ratio']:.3f}x [{r['ci95_low']:.2f}, {high}]"


def shoppers_at_served_weight(shoppers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per catalog of a ``bench/search_personal.py`` report, its row at the bundle's served personal weight."""
    out = {}
    for name, cat in shoppers.get("catalogs", {}).items():
        row = cat["by_weight"].get(str(cat["served_personal_weight"]))
        if row is not None:
            out[name] = {"weight": cat["served_personal_weight"], "users": cat["users"], **row}
    return out


def _interval_text(ratio: float, low: float, high: float | None) -> str:
    return f"{ratio:.3f}x [{low:.2f}, {'unbounded' if high is None else f'{high:.2f}'}]"


def _shoppers_target(shoppers: dict[str, Any] | None, rankers: dict[str, str] | None = None) -> dict[str, Any]:
    """Whether personalisation raises the shoppers' own next products' nDCG@10 on every catalog (interval > 1),
    measured with the rankers serving now (``rankers``: the ranker's name per catalog, None: not checked)."""
    rows = shoppers_at_served_weight(shoppers or {})
    if not rows:
        return {"holds": False, "detail": "not measured: run bench/search_personal.py --split test"}
    stale = sorted(c for c, name in (rankers or {}).items()
                   if c in rows and (shoppers or {})["catalogs"][c].get("ranker") != name)
    if stale:
        return {"holds": False, "detail": f"the shoppers' report is of another ranker than the one serving "
                                          f"{', '.join(stale)}: rerun bench/search_personal.py --split test"}
    text = "; ".join(f"{name}: {_interval_text(r['ratio_to_unpersonalised'], *r['interval'])} ({r['users']} users, "
                     f"weight {r['weight']})" for name, r in rows.items())
    return {"holds": all(r["interval"][0] > 1.0 for r in rows.values()),
            "detail": f"each shopper's own next product (bench/search_personal.py, test targets): {text}"}


def targets(res: dict[str, Any], shoppers: dict[str, Any] | None = None,
            rankers: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Which of issue 17's benchmark targets the final ranker meets on these results (``shoppers``: a
    ``bench/search_personal.py --split test`` report, which measures the personalisation a judged label that
    does not depend on the user cannot; ``rankers``: the name of the ranker serving each catalog, which that
    report must have measured)."""
    final = res["final"]
    nd = final.get("ndcg@10", 0.0)
    bm25 = res["bm25"].get("ndcg@10", 0.0)
    best_name = max(SINGLE_RETRIEVERS, key=lambda r: res[r].get("ndcg@10", 0.0))
    best = res[best_name].get("ndcg@10", 0.0)
    miss = final["misspelled_vs_corrected"]
    plain, personal = res["learned"].get("ndcg@10", 0.0), res["personalised"].get("ndcg@10", 0.0)
    lowered = sum(1 for q, v in res["personalised"]["per_query_ndcg@10"].items()
                  if v < res["learned"]["per_query_ndcg@10"].get(q, 0.0) - 1e-9)
    raised = sum(1 for q, v in res["personalised"]["per_query_ndcg@10"].items()
                 if v > res["learned"]["per_query_ndcg@10"].get(q, 0.0) + 1e-9)
    vs_bm25, vs_best = paired_ratio(res, "final", "bm25"), paired_ratio(res, "final", best_name)
    vs_plain = paired_ratio(res, "personalised", "learned")
    return {
        "ndcg@10 >= 1.25x bm25": {"holds": nd >= 1.25 * bm25, "ratio": vs_bm25,
                                  "detail": f"{nd:.4f} vs 1.25 x {bm25:.4f} = {1.25 * bm25:.4f}; "
                                            f"{_ratio_text(vs_bm25)} (paired bootstrap over queries)"},
        "ndcg@10 >= 1.10x best single retriever": {
            "holds": nd >= 1.10 * best, "ratio": vs_best,
            "detail": f"{nd:.4f} vs 1.10 x {best_name} {best:.4f} = {1.10 * best:.4f}; {_ratio_text(vs_best)}"},
        "p@5 >= 0.90": {"holds": final.get("p@5", 0.0) >= 0.90, "detail": f"{final.get('p@5', 0.0):.4f}"},
        "misspelled >= 0.8x corrected": {
            "holds": miss["asked_ndcg@10"] >= 0.8 * miss["corrected_ndcg@10"],
            "detail": f"{miss['asked_ndcg@10']:.4f} vs 0.8 x {miss['corrected_ndcg@10']:.4f} "
                      f"over {miss['queries']} queries"},
        "0 filler": {"holds": final["filler_per_no_match_query"] == 0,
                     "detail": f"{final['filler_per_no_match_query']:.2f} results per no-match query "
                               f"({final['no_match_queries']} queries)"},
        "personalisation never lowers ndcg@10": {
            "holds": personal >= plain, "ratio": vs_plain,
            "detail": f"{personal:.4f} with a user vs {plain:.4f} without, {_ratio_text(vs_plain)}; lower on "
                      f"{lowered} queries, higher on {raised} (labels that do not depend on the user)"},
        "personalisation raises ndcg@10 for users with history": _shoppers_target(shoppers, rankers),
    }


def _row(name: str, r: dict[str, Any]) -> str:
    cells = [f"{r.get(m, 0.0):.4f}" for m in METRICS]
    lat = r["latency_ms"]
    return (f"| {name} | {' | '.join(cells)} | {r['zero_result_rate']:.3f} | {r['filler_per_no_match_query']:.1f} "
            f"| {lat['p50']:.1f} / {lat['p99']:.1f} |")


def _table(res: dict[str, Any]) -> list[str]:
    lines = ["| row | nDCG@10 | P@5 (E) | P@5 (E+S) | MRR | recall@50 | zero-result | filler | ms p50 / p99 |",
             "|---|---|---|---|---|---|---|---|---|"]
    return lines + [_row(name, r) for name, r in res.items()]


def _kinds(res: dict[str, Any]) -> list[str]:
    kinds = sorted({k for r in res.values() for k in r["by_kind"]} | {b for r in res.values() for b in r["by_band"]})
    lines = ["| nDCG@10 by kind | " + " | ".join(res) + " |", "|---|" + "---|" * len(res)]
    for k in kinds:
        cells = []
        for r in res.values():
            sub = r["by_kind"].get(k) or r["by_band"].get(k)
            cells.append(f"{sub['ndcg@10']:.3f} ({sub['queries']})" if sub else "-")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    res = doc["results"]
    out = [f"# Search on judged queries ({doc['split']} split)", "",
           f"{doc['queries']} queries over {', '.join(doc['catalogs'])}; {doc['judged_pairs']} judged pairs in all "
           "splits. Queries without an Exact product (the no-match kind) count only for the filler column. "
           "Unjudged results count as Irrelevant. `graph` is the API with the hand-set weights, `learned` with the "
           "ranker trained on the dev split (bench/search_ranker.py), `personalised` / `final` that with a user.",
           ""]
    dictionaries = sorted({d for names in doc.get("query_dictionaries", {}).values() for d in names})
    out += [f"Query dictionaries installed (non-English queries read through them, docs/search.md): "
            f"{', '.join(dictionaries) or 'none'}.", ""]
    machine = doc.get("machine", {})
    if "load_average_at_start" in machine:
        out += [f"Load average at start {machine['load_average_at_start']} on {machine['cores']} cores; "
                f"{doc['seconds']} s.", ""]
    for scope, rows in res.items():
        out += [f"## {scope}", "", *_table(rows), "", *_kinds(rows), ""]
    out += ["## Targets (issue 17, on all catalogs)", ""]
    out += [f"- {'holds' if c['holds'] else 'FAILS'}: {name} ({c['detail']})" for name, c in doc["targets"].items()]
    return "\n".join(out) + "\n"
