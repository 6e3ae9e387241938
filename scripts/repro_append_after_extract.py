#!/usr/bin/env python
"""Reproduces, with kuzu alone, the storage bug that made Cartograph compact its graph; LadybugDB is free of it.

kuzu 0.11.3 (also 0.11.2 and 0.10.1; the project is archived, so no fix will come): a node table of more than
~8k rows whose STRING property is SET in two transactions, with relationship inserts between them, reads back
correctly, until nodes are appended to it in a later transaction. From then on the property reads back wrong
values (the count of rows whose ``extracted_hash`` equals ``text_hash`` drops from N to 0) or fails with
``IO exception: Cannot read from file ... position <past the end of the file>`` (with 4 rounds instead of 2).
Entity extraction writes exactly this pattern (MENTIONS edges, then ``Product.extracted_hash``, batch after
batch), and a catalog rebuild then appends new products. The same steps with all the edges written before or
after the SETs, or with each round in one explicit transaction, read back correctly (also 8,000 rows).

LadybugDB (``ladybug``, the maintained fork of Kuzu and Cartograph's embedded engine since 0.22) runs the same
steps and reads back every row: ``tests/test_embedded_engine.py`` runs them as a guard.

Usage: ``.venv/bin/python scripts/repro_append_after_extract.py [--engine kuzu|ladybug] [--rows 12101]
[--rounds 2]``. One engine per process: kuzu and ladybug must never be imported in one interpreter.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

engine: Any = None  # the module of the engine chosen on the command line (kuzu or ladybug)


def use(name: str) -> ModuleType:
    global engine
    engine = importlib.import_module(name)
    return engine


def build(path: Path, rows: int, rounds: int) -> list[str]:
    db = engine.Database(str(path))
    conn = engine.Connection(db)
    conn.execute("CREATE NODE TABLE Product(id STRING, text_hash STRING, extracted_hash STRING, PRIMARY KEY(id))")
    conn.execute("CREATE NODE TABLE Entity(id STRING, PRIMARY KEY(id))")
    conn.execute("CREATE REL TABLE MENTIONS(FROM Product TO Entity, source STRING)")
    ids = [f"P{i:06d}" for i in range(rows)]
    hashes = {i: hashlib.sha1(i.encode()).hexdigest() for i in ids}
    conn.execute("UNWIND $rows AS r CREATE (:Product {id: r.id, text_hash: r.h})",
                 {"rows": [{"id": i, "h": hashes[i]} for i in ids]})
    conn.execute("UNWIND range(0, 49) AS i CREATE (:Entity {id: 'E' + CAST(i AS STRING)})")
    size = -(-rows // rounds)
    for start in range(0, rows, size):
        chunk = ids[start:start + size]
        edges = [{"p": p, "e": f"E{(n * 7 + k) % 50}"} for n, p in enumerate(chunk) for k in range(4)]
        conn.execute("UNWIND $rows AS r MATCH (p:Product {id: r.p}), (e:Entity {id: r.e}) "
                     "MERGE (p)-[m:MENTIONS]->(e) SET m.source = 'title'", {"rows": edges})
        conn.execute("UNWIND $rows AS r MATCH (p:Product {id: r.id}) SET p.extracted_hash = r.h",
                     {"rows": [{"id": p, "h": hashes[p]} for p in chunk]})
    conn.close()
    db.close()
    return ids


def correct_rows(path: Path) -> str:
    db = engine.Database(str(path), read_only=True)
    conn = engine.Connection(db)
    try:
        result = conn.execute("MATCH (p:Product) WHERE p.extracted_hash = p.text_hash RETURN count(*)")
        assert not isinstance(result, list)
        return str(result.get_next()[0])
    except RuntimeError as e:
        return f"read failed: {str(e).splitlines()[0]}"
    finally:
        conn.close()
        db.close()


def append(path: Path) -> None:
    db = engine.Database(str(path))
    conn = engine.Connection(db)
    conn.execute("UNWIND range(0, 120) AS i MERGE (p:Product {id: 'X' + CAST(i AS STRING)})")
    conn.close()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_101, help="products (amazon-beauty has 12,101)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (edges, then SET)")
    parser.add_argument("--engine", choices=["kuzu", "ladybug"], default="kuzu")
    args = parser.parse_args()
    module = use(args.engine)
    path = Path(tempfile.mkdtemp(prefix=f"{args.engine}-repro-")) / "graph.db"
    build(path, args.rows, args.rounds)
    print(f"{args.engine} {module.__version__}, {args.rows} products, {args.rounds} rounds")
    print(f"rows with extracted_hash = text_hash before the append: {correct_rows(path)}")
    append(path)
    print(f"rows with extracted_hash = text_hash after appending 121 products: {correct_rows(path)}")
    print(f"(database left at {path})")


if __name__ == "__main__":
    main()
