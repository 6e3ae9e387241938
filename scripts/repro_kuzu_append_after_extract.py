#!/usr/bin/env python
"""Reproduces an open embedded-store bug (about a minute on 2 cores; needs ../shared/data).

Build amazon-beauty with the rebuild's graph steps (bulk COPY into empty tables) and entity extraction, then
append 121 new Product nodes with an upsert: afterwards reading Product.extracted_hash fails with
``IO exception: Cannot read from file: .../graph.kuzu ... position <one page past the end of the file>``,
and values read before that point are wrong. Without the extraction step, or with only its ALTERs, or with only
an upsert of extracted_hash on every product, the same append works (scripts kept in the closing note of
2026-11-23). Suspect: kuzu 0.11.3 storage when a COPY-created node table with a populated rel table (MENTIONS)
gets new rows. Blocks bench/rebuild on the embedded store.

Usage: ``.venv/bin/python scripts/repro_kuzu_append_after_extract.py [--data-dir ../shared/data]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from kg.config import PROJECT_ROOT, Settings
from kg.rebuild.job import RebuildJob, default_steps, job_inputs
from kg.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description="reproduce the Kuzu append-after-extract read failure")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kuzu-repro-"))
    try:
        settings = Settings(store_backend="embedded", home=root / "home", neo4j_uri=None)
        inputs = job_inputs(args.data_dir / "amazon-beauty", None, model=False)
        RebuildJob(settings, inputs, default_steps(inputs), log=lambda _: None, progress=False).run()
        with open_store(settings) as store:
            store.upsert_nodes("Product", [{"id": f"X{i}", "title": f"t{i}", "active": True} for i in range(121)])
        with open_store(settings, read_only=True) as store:
            try:
                rows = store.query("MATCH (p:Product) RETURN count(*) AS n, count(p.extracted_hash) AS extracted")
                print(f"no failure: {rows}")
            except Exception as e:  # the bug: print it, do not hide it
                print(f"REPRODUCED: {e}".splitlines()[0])
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
