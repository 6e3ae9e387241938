"""The Neo4j Browser guide (``cypher/guide/cartograph.html``), generated from the explore kit so it cannot drift.

Each query of ``cypher/explore/`` becomes a slide: its purpose, a block of ``:param name => value;`` lines with
the header's example, and the Neo4j text of the query as a runnable block. ``:param name => value`` has the server
evaluate the value, so an integer stays an integer; Browser 5's ``:params {limit: 10}`` sends 10 as a float
(10.0), which ``LIMIT $limit`` refuses (tests/test_browser.py found it). ``scripts/make_browser_guide.py`` writes
the file; ``tests/test_explore.py`` checks that the committed file is what the kit generates.
"""

from __future__ import annotations

import html
import json
from typing import Any

from kg.queries import QueryLibrary

INTRO = """<p>Cartograph is a knowledge graph of products, brands, categories, the entities found in product text,
users and their interactions, plus the model's recommendations written back by <code>cartograph export-recs</code>.</p>
<pre>(:User)-[:PURCHASED|VIEWED|RATED]-&gt;(:Product)-[:MADE_BY]-&gt;(:Brand)
(:Product)-[:IN_CATEGORY]-&gt;(:Category)-[:SUBCATEGORY_OF]-&gt;(:Category)
(:Product)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-&gt;(:Product)
(:Product)-[:MENTIONS]-&gt;(:Entity)
(:User)-[:RECOMMENDED {score, model, rank}]-&gt;(:Product)
(:Product)-[:SIMILAR_TO {score, model, rank}]-&gt;(:Product)</pre>
<p>Each slide sets its parameters with <code>:param name =&gt; value</code> lines (run that block first, then the
query). Change the values to explore other users and products. Start with the size of the graph:</p>
<pre class="pre-scrollable code runnable">MATCH (n)
RETURN labels(n)[0] AS label, count(*) AS nodes ORDER BY nodes DESC</pre>"""

PATHS_SLIDE = """<p>The same question drawn as a graph: Browser shows the paths when a query returns them.</p>
<pre class="pre-scrollable code runnable">MATCH path = (u:User {id: $user_id})-[:PURCHASED|VIEWED|RATED|ALSO_BOUGHT|\
ALSO_VIEWED|BOUGHT_TOGETHER|MADE_BY|IN_CATEGORY|MENTIONS*1..3]-(t:Product {id: $product_id})
RETURN path ORDER BY length(path) LIMIT $limit</pre>"""


def cypher_literal(value: Any) -> str:
    """A parameter value written as a Cypher literal (for ``:param name => <literal>``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {cypher_literal(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def param_lines(params: dict[str, Any]) -> str:
    """Browser commands that set ``params``: one ``:param name => literal;`` per parameter (Browser runs the
    block as several statements), or ``:params {}`` for a query without any."""
    if not params:
        return ":params {}"
    return "\n".join(f":param {name} => {cypher_literal(value)};" for name, value in params.items())


def _body(text: str) -> str:
    """The query without its header comment lines."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("//")):
        lines.pop(0)
    return "\n".join(lines).strip()


def _slide(title: str, content: str) -> str:
    return (f'    <slide class="row-fluid">\n      <div class="col-sm-12">\n        <h3>{html.escape(title)}</h3>\n'
            f"{content}\n      </div>\n    </slide>\n")


def render_guide(library: QueryLibrary) -> str:
    """The guide's HTML, one slide per explore query (Neo4j dialect)."""
    slides = [_slide("Welcome to the Cartograph graph", INTRO)]
    for name in (n for n in library.names() if n.startswith("explore/")):
        query = library.get(name, "neo4j")
        params = json.loads(query.header.get("example", "{}"))
        parts = [f"<p>{html.escape(query.header.get('purpose', ''))}</p>"]
        if query.header.get("note"):
            parts.append(f"<p><em>{html.escape(query.header['note'])}</em></p>")
        parts.append(f'<pre class="pre-scrollable code runnable">{html.escape(param_lines(params))}</pre>')
        parts.append(f'<pre class="pre-scrollable code runnable">{html.escape(_body(query.text))}</pre>')
        slides.append(_slide(name, "\n".join(parts)))
        if name == "explore/why_recommended":
            slides.append(_slide("explore/why_recommended, drawn", PATHS_SLIDE))
    return ('<article class="guide">\n  <carousel class="deck container-fluid">\n' + "".join(slides)
            + "  </carousel>\n</article>\n")
