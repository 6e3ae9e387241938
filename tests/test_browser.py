"""Neo4j Browser, as an analyst uses it: the Browser served by the session's Neo4j (``/browser/``) in headless
Chromium, logged in with the password, plays the Cartograph guide (``cypher/guide/cartograph.html`` served by
``scripts/serve_browser_guide.py``), runs the guide's first query and one explore query with its ``:params``,
and reads the rendered result tables.

Needs Debian's chromium and chromium-driver and the selenium package (``.ci/run`` installs the first two).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Neo4jServer, wipe_neo4j
from explore_graph import build_small_graph

from kg.config import PROJECT_ROOT
from kg.queries import QueryLibrary
from kg.store import GraphStore

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import neo4j_browser

pytestmark = [pytest.mark.neo4j, pytest.mark.timeout(300)]


def table_rows(frame: Any) -> list[list[str]]:
    """The rows of a result frame's table view, as cell texts (Browser renders a <table>)."""
    from selenium.webdriver.common.by import By

    rows = []
    for tr in frame.find_elements(By.CSS_SELECTOR, "table tbody tr, table tr"):
        # The first cell of a row is its number (Browser's row-actions cell): left out.
        cells = [td.text.strip() for td in tr.find_elements(By.CSS_SELECTOR, "td")
                 if "row-actions" not in (td.get_attribute("class") or "")]
        if cells:
            rows.append(cells)
    return rows


@pytest.fixture
def browser(neo4j_server: Neo4jServer) -> Iterator[neo4j_browser.BrowserSession]:
    reason = neo4j_browser.missing()
    if reason:
        pytest.skip(f"no headless Chromium here: {reason}")
    if neo4j_server.http_url is None:
        pytest.skip("the Neo4j server's HTTP address is unknown (set CARTOGRAPH_TEST_NEO4J_HTTP_URL)")
    with neo4j_browser.chromium() as driver:
        session = neo4j_browser.BrowserSession(driver, neo4j_server.http_url, neo4j_server.uri)
        session.login(neo4j_server.user, neo4j_server.password)
        yield session


@pytest.fixture
def small_graph(neo4j_driver: object) -> GraphStore:
    """tests/explore_graph.py's hand-checked graph, alone in the Neo4j database."""
    from kg.store.neo4j import Neo4jStore

    wipe_neo4j(neo4j_driver)
    store = Neo4jStore(neo4j_driver, QueryLibrary(PROJECT_ROOT / "cypher"))  # type: ignore[arg-type]
    store.init_schema()
    build_small_graph(store)
    return store


def test_the_guide_plays_and_an_explore_query_renders_in_neo4j_browser(
        small_graph: GraphStore, browser: neo4j_browser.BrowserSession) -> None:
    from selenium.webdriver.common.by import By

    with neo4j_browser.guide_server() as url:
        guide = browser.run(f":play {url}")
        neo4j_browser.wait_for("the guide", lambda: "Welcome to the Cartograph graph" in guide.text)
        assert re.search(r"1 / \d+", guide.text), guide.text[:300]
        # The first slide's query: nodes per label, as a table.
        first = guide.find_elements(By.CSS_SELECTOR, "pre.runnable")[-1]
        counts = browser.run_runnable(first)
        rows = neo4j_browser.wait_for("the label counts", lambda: table_rows(counts))
        assert {tuple(r) for r in rows} >= {('"Product"', "6"), ('"User"', "3")}, rows
        # An explore query from its slide: the slide's :param block (the sample's user, limit 20), the user
        # changed to the small graph's u1 the same way, then the slide's query.
        slide = browser.guide_slide("explore/user_neighbourhood", guide)
        param_block, query_block = slide.find_elements(By.CSS_SELECTOR, "pre.runnable")[-2:]
        assert ":param limit => 20;" in param_block.text
        assert "MATCH (u:User {id: $user_id})" in query_block.text
        browser.run_runnable(param_block)
        browser.run(":param user_id => 'u1'")
        result = browser.run_runnable(query_block)
        rows = neo4j_browser.wait_for("the explore query's rows", lambda: table_rows(result))
    assert [(r[0], r[2]) for r in rows] == [('"p1"', '"PURCHASED"'), ('"p3"', '"PURCHASED"')], rows
    assert "Started streaming 2 records" in result.text
