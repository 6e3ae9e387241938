"""Write cypher/guide/cartograph.html, the Neo4j Browser guide, from the queries in cypher/explore/.

    .venv/bin/python scripts/make_browser_guide.py

Run it after changing a query of the kit (tests/test_explore.py fails until the guide is regenerated).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.explore.guide import render_guide  # noqa: E402
from kg.queries import QueryLibrary  # noqa: E402

if __name__ == "__main__":
    target = ROOT / "cypher" / "guide" / "cartograph.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_guide(QueryLibrary(ROOT / "cypher")), encoding="utf-8")
    print(f"wrote {target}")
