#!/usr/bin/env python
"""The screenshots of docs/browser-guide.md: Neo4j Browser in headless Chromium on a Neo4j holding the main job.

    scripts/neo4j-local start
    eval "$(scripts/neo4j-local env)"
    .venv/bin/cartograph quickstart --no-serve && .venv/bin/cartograph export-recs
    .venv/bin/python scripts/browser_screenshots.py            # writes docs/images/browser-*.png

Logs in as an analyst would, plays the Cartograph guide (served by scripts/serve_browser_guide.py), runs the
first slide's query, the ``explore/user_neighbourhood`` slide (its own ``:param`` block, then the query), and
the ``why_recommended, drawn`` slide for the example user and one of their recommendations (a graph view).
Reads the server from ``CARTOGRAPH_NEO4J_URI`` / ``_USER`` / ``_PASSWORD`` and its HTTP address from
``scripts/neo4j-local``'s state (``--http-url`` overrides).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import neo4j_browser

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-url", help="Neo4j's HTTP address (default: scripts/neo4j-local's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    reason = neo4j_browser.missing()
    if reason:
        raise SystemExit(reason)
    uri = os.environ["CARTOGRAPH_NEO4J_URI"]
    user, password = os.environ.get("CARTOGRAPH_NEO4J_USER", "neo4j"), os.environ["CARTOGRAPH_NEO4J_PASSWORD"]
    http_url = args.http_url
    if http_url is None:
        state = json.loads((ROOT / "var" / "neo4j" / "run.json").read_text())
        http_url = f"http://127.0.0.1:{state['http_port']}"

    import neo4j
    from selenium.webdriver.common.by import By

    driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
    # The example user's best-ranked recommendation that a path of at most 3 hops explains.
    recs = driver.execute_query(
        "MATCH (u:User {id: 'A3G6XNM240RMWA'})-[r:RECOMMENDED]->(p:Product) "
        "WHERE EXISTS { (u)-[:PURCHASED|VIEWED|RATED|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|MADE_BY|IN_CATEGORY|"
        "MENTIONS*1..3]-(p) } RETURN p.id AS id ORDER BY r.rank LIMIT 1").records
    driver.close()
    if not recs:
        raise SystemExit("the example user has no RECOMMENDED edges: run `cartograph export-recs` first")

    with neo4j_browser.chromium(1400, 1000) as chrome, neo4j_browser.guide_server() as url:
        browser = neo4j_browser.BrowserSession(chrome, http_url, uri)
        browser.login(user, password)
        guide = browser.run(f":play {url}")
        neo4j_browser.wait_for("the guide", lambda: "Welcome to the Cartograph graph" in guide.text)
        time.sleep(1)
        written = [browser.screenshot(args.out / "browser-guide.png", guide)]
        counts = browser.run_runnable(guide.find_elements(By.CSS_SELECTOR, "pre.runnable")[-1])
        neo4j_browser.wait_for("label counts", lambda: "Started streaming" in counts.text)
        written.append(browser.screenshot(args.out / "browser-label-counts.png", counts))
        slide = browser.guide_slide("explore/user_neighbourhood", guide)
        param_block, query_block = slide.find_elements(By.CSS_SELECTOR, "pre.runnable")[-2:]
        browser.run_runnable(param_block)
        result = browser.run_runnable(query_block)
        neo4j_browser.wait_for("the neighbourhood", lambda: "Started streaming" in result.text)
        written.append(browser.screenshot(args.out / "browser-user-neighbourhood.png", result))
        drawn = browser.guide_slide("explore/why_recommended, drawn", guide)
        browser.run(f":param user_id => 'A3G6XNM240RMWA';\n:param product_id => '{recs[0]['id']}';\n"
                    ":param limit => 10;")
        paths = browser.run_runnable(drawn.find_elements(By.CSS_SELECTOR, "pre.runnable")[-1])
        neo4j_browser.wait_for("the drawn paths", lambda: "Displaying" in paths.text or "Started streaming"
                               in paths.text or "no records" in paths.text.lower())
        time.sleep(3)  # the force layout settles
        written.append(browser.screenshot(args.out / "browser-why-recommended-drawn.png", paths))
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
