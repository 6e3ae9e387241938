"""Regenerate the example outputs in docs/exploring.md from the embedded engine on the shipped sample.

    .venv/bin/python scripts/explore_examples.py [--home /tmp/cartograph-examples] [--epochs 3]

Steps (each a real `cartograph` command in a fresh home): ingest data/sample, train the GNN for a
few epochs, export-recs, then every query of cypher/explore/ with the example parameters of its header, through
`cartograph query --name ... --json`, and two export-recs / export-rdf runs for their timings. The outputs are
written between the markers ``<!-- examples:start -->`` and ``<!-- examples:end -->`` of docs/exploring.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLI = [str(Path(sys.executable).parent / "cartograph")]
DOC = ROOT / "docs" / "exploring.md"
START, END = "<!-- examples:start -->", "<!-- examples:end -->"
MAX_ROWS = 8


def cartograph(env: dict[str, str], *args: str) -> tuple[str, float]:
    began = time.perf_counter()
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"cartograph {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout, time.perf_counter() - began


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_(no rows)_"
    columns = list(rows[0])

    def cell(v: Any) -> str:
        text = json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else "" if v is None else str(v)
        text = text if len(text) <= 90 else text[:87] + "..."
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n({len(rows)} rows; the first {MAX_ROWS} shown)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path("/tmp/cartograph-examples"))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    env = {**os.environ, "CARTOGRAPH_HOME": str(args.home), "CARTOGRAPH_STORE_BACKEND": "embedded"}
    for name in ("CARTOGRAPH_NEO4J_URI", "CARTOGRAPH_EMBEDDED_PATH", "CARTOGRAPH_ARTIFACTS_DIR", "CARTOGRAPH_CONFIG"):
        env.pop(name, None)
    sys.path.insert(0, str(ROOT))
    from kg.queries import QueryLibrary

    out: list[str] = []
    cartograph(env, "ingest", str(ROOT / "data" / "sample"), "--no-progress")
    cartograph(env, "train", "--epochs", str(args.epochs), "--no-baselines")
    text, first = cartograph(env, "export-recs", "--no-progress")
    _, second = cartograph(env, "export-recs", "--no-progress")
    out += ["### `cartograph export-recs` (after `cartograph train --epochs "
            f"{args.epochs} --no-baselines`)", "", "```", text.strip(), "```", "",
            f"Wall time: {first:.1f} s for the first run, {second:.1f} s for a re-run with the same bundle "
            "(idempotent: same edges, nothing pruned).", ""]
    rdf_dir = args.home / "rdf"
    text, secs = cartograph(env, "export-rdf", "--out", str(rdf_dir))
    sizes = ", ".join(f"`{p.name}` {p.stat().st_size / 1e6:.1f} MB" for p in sorted(rdf_dir.iterdir()))
    out += ["### `cartograph export-rdf --out rdf/`", "", f"{secs:.1f} s; {sizes}.", ""]
    library = QueryLibrary(ROOT / "cypher")
    for name in (n for n in library.names() if n.startswith("explore/")):
        query = library.get(name, "kuzu")
        params = json.loads(query.header["example"])
        flags = [a for k, v in params.items() for a in ("--param", f"{k}:json={json.dumps(v)}")]
        text, secs = cartograph(env, "query", "--name", name, *flags, "--json")
        shown = " ".join(f"--param {k}={v}" for k, v in params.items())
        out += [f"### `{name}`", "", query.header.get("purpose", ""), "", f"`cartograph query --name {name} {shown}`"
                f" ({secs:.1f} s including start-up)", "", markdown_table(json.loads(text)), ""]
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n\n" + "\n".join(out) + f"\n{END}{tail}", encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
