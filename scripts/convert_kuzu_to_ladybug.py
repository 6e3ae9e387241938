#!/usr/bin/env python
"""Convert an embedded graph written by Kuzu (Cartograph before LadybugDB) into a LadybugDB file.

    .venv/bin/pip install -c constraints.txt -e ".[kuzu]"     # kuzu 0.11.3, only for this conversion
    .venv/bin/python scripts/convert_kuzu_to_ladybug.py var/graph.kuzu var/graph.lbug

The two engines have different file formats and must never be loaded in one process, so this runs two child
processes: kuzu ``EXPORT DATABASE`` (Parquet, beside the target), then ladybug ``IMPORT DATABASE``; then it
counts every table in both and fails if any count differs. The Kuzu file is left as it was; the target must
not exist. Afterwards the old file can be deleted (or kept: Cartograph opens ``graph.lbug`` by default and
says so when it finds only a ``graph.kuzu``).

The export is taken from a copy of the graph, so a graph that the kuzu storage bug damaged (see
``scripts/repro_append_after_extract.py``) reads back what kuzu reads: check the counts printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a child process with one engine (``ENGINE`` is kuzu or ladybug): counts per table as JSON.
COUNT = """
import json, sys
import {engine} as engine
db = engine.Database(sys.argv[1], read_only=True)
conn = engine.Connection(db)
tables = conn.execute("CALL show_tables() RETURN name, type").get_as_df()
counts = {{}}
for name, kind in zip(tables["name"], tables["type"]):
    pattern = f"(n:{{name}})" if kind == "NODE" else f"()-[n:{{name}}]->()"
    counts[name] = conn.execute(f"MATCH {{pattern}} RETURN count(*)").get_next()[0]
print(json.dumps(counts, sort_keys=True))
"""

EXPORT = """
import sys
import kuzu
db = kuzu.Database(sys.argv[1], read_only=True)
conn = kuzu.Connection(db)
conn.execute(f"EXPORT DATABASE '{sys.argv[2]}' (format='parquet')")
"""

IMPORT = """
import sys
import ladybug
db = ladybug.Database(sys.argv[1])
conn = ladybug.Connection(db)
conn.execute(f"IMPORT DATABASE '{sys.argv[2]}'")
"""


def run(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"convert: a child process failed:\n{done.stderr.strip()}")
    return done.stdout


def convert(source: Path, target: Path) -> dict[str, int]:
    """Convert ``source`` (Kuzu) to ``target`` (LadybugDB); return the counts per table."""
    if not source.is_file():
        raise SystemExit(f"convert: no Kuzu database at {source}")
    if target.exists():
        raise SystemExit(f"convert: {target} exists; choose a new path (nothing was changed)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kuzu-export-", dir=target.parent) as work:
        copy = Path(work) / "source.kuzu"
        shutil.copy2(source, copy)  # kuzu may write beside the file even read-only; never touch the original
        wal = source.with_name(source.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, copy.with_name(copy.name + ".wal"))
        before = json.loads(run(COUNT.format(engine="kuzu"), str(copy)))
        export = Path(work) / "export"
        run(EXPORT, str(copy), str(export))
        run(IMPORT, str(target), str(export))
    after = json.loads(run(COUNT.format(engine="ladybug"), str(target)))
    if after != before:
        raise SystemExit(f"convert: counts differ (kuzu {before}, ladybug {after}); {target} is not to be used")
    return after  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the Kuzu database file (e.g. var/graph.kuzu)")
    parser.add_argument("target", type=Path, help="the new LadybugDB file (e.g. var/graph.lbug)")
    args = parser.parse_args()
    try:
        run("import kuzu")
    except SystemExit:
        raise SystemExit("convert: kuzu is not installed: pip install -c constraints.txt -e '.[kuzu]'") from None
    counts = convert(args.source, args.target)
    print(f"converted {args.source} -> {args.target}: {sum(counts.values()):,} rows in {len(counts)} tables, "
          "the same counts in both")
    for name, n in counts.items():
        print(f"  {name:<16} {n:>10,}")


if __name__ == "__main__":
    main()
