#!/usr/bin/env python
"""Ingest benchmark: the full amazon-beauty into a fresh embedded store, the same ingest again, and
amazon-office, each with every record accounted for.

Runs, each on a store of its own under a temporary folder:

1. ``beauty first load``: fresh store, the pipeline's default (bulk ``COPY`` into the empty tables);
2. ``beauty re-run``: the same ingest again on that store (upserts of the rows that changed: none); must
   change nothing: node and edge counts and a full dump of the graph (every property, every edge) are
   compared;
3. ``beauty from scratch, upserts only``: fresh store, ``allow_copy=False`` (``UNWIND ... MERGE``), to measure
   what the bulk path saves; the graph must equal run 1's;
4. ``office first load``: amazon-office (raw HTML/CSS descriptions), fresh store.

Writes ``bench/results/ingest.json`` and prints a markdown table (the README's). Needs ../shared/data (or
``--data-dir``); takes about 2.5 minutes on two cores, most of it run 3.

Usage: ``.venv/bin/python bench/ingest.py [--data-dir ../shared/data] [--out bench/results/ingest.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kg.config import PROJECT_ROOT
from kg.ingest.pipeline import dump_graph, ingest
from kg.ingest.readers import open_reader
from kg.ingest.report import IngestReport
from kg.queries import QueryLibrary
from kg.store.embedded import EmbeddedStore


def fresh_store(root: Path, name: str) -> EmbeddedStore:
    store = EmbeddedStore(root / name / "graph.lbug", QueryLibrary(PROJECT_ROOT / "cypher"))
    store.init_schema()
    return store


def run(name: str, store: EmbeddedStore, data: Path, fmt: str, root: Path, **kw: Any) -> dict[str, Any]:
    print(f"-- {name} ...", file=sys.stderr, flush=True)
    out = root / "runs" / name.replace(" ", "-").replace(",", "")
    report = ingest(open_reader(data, fmt), store, quarantine_path=out / "quarantine.jsonl",
                    report_path=out / "report.json", progress=False, **kw)
    problems = report.invariant_violations()
    assert not problems, problems
    nodes, rels = store.count_nodes(), store.count_relationships()
    print(f"   {report.read} records, {report.quarantined} quarantined, {report.load_method}, "
          f"{report.wall_seconds:.1f} s", file=sys.stderr)
    return {"name": name, "report": report, "nodes": nodes, "relationships": rels}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    r: IngestReport = result["report"]
    return {
        "name": result["name"], "source": r.source, "load_method": r.load_method,
        "records_read": r.read, "quarantined": r.quarantined,
        "wall_seconds": r.wall_seconds, "read_validate_seconds": r.read_seconds,
        "check_seconds": r.check_seconds, "load_seconds": r.load_seconds,
        "records_per_s_end_to_end": round(r.read / r.wall_seconds, 1) if r.wall_seconds else None,
        "kinds": {k.value: s.model_dump() for k, s in r.kinds.items() if s.read},
        "stages": [s.model_dump() for s in r.stages],
        "quarantine_reasons": r.quarantine_reasons, "warnings": r.warnings, "reader_notes": r.reader_notes,
        "cleaning": r.cleaning,
        "graph": {"nodes": result["nodes"], "relationships": {k: v for k, v in result["relationships"].items() if v}},
    }


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = ["| run | load | records read | quarantined | wall s | read+validate s | load s | end-to-end records/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['name']} | {r['load_method']} | {r['records_read']:,} | {r['quarantined']:,} | "
                     f"{r['wall_seconds']:.1f} | {r['read_validate_seconds']:.1f} | {r['load_seconds']:.1f} | "
                     f"{r['records_per_s_end_to_end']:,.0f} |")
    beauty = [r for r in runs if r["source"] == "amazon-beauty"]
    lines += ["", "Loading rate per record kind, amazon-beauty (accepted records / seconds of the stages that "
              "write them):", "", "| kind | records | " + " | ".join(r["name"] for r in beauty) + " |",
              "|---|---:|" + "---:|" * len(beauty)]
    for kind, stats in beauty[0]["kinds"].items():
        rates = [f"{r['kinds'][kind]['records_per_s'] or 0:,.0f}/s ({r['kinds'][kind]['load_seconds']:.2f} s)"
                 for r in beauty]
        lines.append(f"| {kind} | {stats['accepted']:,} | " + " | ".join(rates) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "ingest.json")
    parser.add_argument("--skip-merge-from-scratch", action="store_true", help="skip run 3 (the slow one)")
    args = parser.parse_args()
    beauty, office = args.data_dir / "amazon-beauty", args.data_dir / "amazon-office"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cartograph-bench-") as tmp:
        root = Path(tmp)
        results: list[dict[str, Any]] = []
        store = fresh_store(root, "beauty")
        results.append(run("beauty first load", store, beauty, "amazon-beauty", root))
        first_dump = dump_graph(store)
        results.append(run("beauty re-run", store, beauty, "amazon-beauty", root))
        rerun_unchanged = dump_graph(store) == first_dump
        counts_equal = (results[0]["nodes"], results[0]["relationships"]) == (
            results[1]["nodes"], results[1]["relationships"])
        assert counts_equal and rerun_unchanged, "re-running the ingest changed the graph"
        store.close()
        same_graph_both_paths = None
        if not args.skip_merge_from_scratch:
            merge_store = fresh_store(root, "beauty-merge")
            results.append(run("beauty from scratch, upserts only", merge_store, beauty, "amazon-beauty", root,
                               allow_copy=False))
            same_graph_both_paths = dump_graph(merge_store) == first_dump
            assert same_graph_both_paths, "the bulk path and the upsert path built different graphs"
            merge_store.close()
        office_store = fresh_store(root, "office")
        results.append(run("office first load", office_store, office, "amazon-office", root))
        office_store.close()
    runs = [summary(r) for r in results]
    doc = {
        "benchmark": "bench/ingest.py",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "ladybug": version("ladybug"), "pydantic": version("pydantic")},
        "checks": {"rerun_counts_equal": counts_equal, "rerun_content_equal": rerun_unchanged,
                   "bulk_and_upsert_graphs_equal": same_graph_both_paths,
                   "every_record_accounted_for": all(not r["report"].invariant_violations() for r in results)},
        "total_seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(markdown(runs))
    print(f"\nwritten: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
