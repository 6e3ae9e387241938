"""A small graph, written through :class:`GraphStore` upserts, on which the explore kit's answers are known by hand.

Shared by tests/test_explore.py, tests/test_query_cli.py and tests/test_rdf_export.py. Values are chosen so that
each query has something to find and something to leave out: a duplicate entity spelling, a product with no
brand, category or entities, an inactive product, a title that looks like Cypher, and written-back model edges.
"""

from __future__ import annotations

from kg.store import GraphStore

MODEL = "test-model@v1"
INJECTION_TITLE = "mystery'}) MATCH (n) DETACH DELETE n //"

BRANDS = [{"id": "acme", "name": "Acme"}, {"id": "zenith", "name": "Zenith"}, {"id": "solo", "name": "Solo"}]
CATEGORIES = [{"id": "office", "name": "Office"}, {"id": "ink", "name": "Ink"}, {"id": "paper", "name": "Paper"}]
ENTITIES = [
    {"id": "product_type:ink-cartridge", "name": "ink cartridge", "type": "product_type"},
    {"id": "product_type:ink-cartridges", "name": "Ink-Cartridges", "type": "product_type"},
    {"id": "colour:black", "name": "black", "type": "colour"},
    {"id": "size:a4", "name": "A4", "type": "size"},
]
PRODUCTS = [
    {"id": "p1", "title": "Acme black ink cartridge", "description": "Fits Acme printers.", "price": 19.99,
     "active": True},
    {"id": "p2", "title": "Acme colour ink cartridges", "description": None, "price": 24.5, "active": True},
    {"id": "p3", "title": "Zenith A4 paper", "description": "500 sheets", "price": 5.0, "active": True},
    {"id": "p4", "title": "Zenith black ink", "description": None, "price": None, "active": True},
    {"id": "p5", "title": INJECTION_TITLE, "description": None, "price": None, "active": True},
    {"id": "p6", "title": "Solo paper (discontinued)", "description": None, "price": 3.0, "active": False},
]
USERS = [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]
EDGES: dict[str, list[dict[str, object]]] = {
    "MADE_BY": [{"src": "p1", "dst": "acme"}, {"src": "p2", "dst": "acme"}, {"src": "p3", "dst": "zenith"},
                {"src": "p4", "dst": "zenith"}, {"src": "p6", "dst": "solo"}],
    "IN_CATEGORY": [{"src": "p1", "dst": "ink"}, {"src": "p2", "dst": "ink"}, {"src": "p3", "dst": "paper"},
                    {"src": "p4", "dst": "ink"}, {"src": "p6", "dst": "paper"}],
    "SUBCATEGORY_OF": [{"src": "ink", "dst": "office"}, {"src": "paper", "dst": "office"}],
    "MENTIONS": [
        {"src": "p1", "dst": "product_type:ink-cartridge", "source": "title", "extractor": "test", "confidence": 0.9},
        {"src": "p1", "dst": "colour:black", "source": "title", "extractor": "test", "confidence": 0.8},
        {"src": "p2", "dst": "product_type:ink-cartridges", "source": "title", "extractor": "test",
         "confidence": 0.9},
        {"src": "p3", "dst": "size:a4", "source": "title", "extractor": "test", "confidence": 0.7},
        {"src": "p4", "dst": "product_type:ink-cartridge", "source": "title", "extractor": "test",
         "confidence": 0.6},
        {"src": "p4", "dst": "colour:black", "source": "title", "extractor": "test", "confidence": 0.9},
    ],
    "PURCHASED": [{"src": "u1", "dst": "p1", "seq": 0}, {"src": "u1", "dst": "p3", "seq": 1},
                  {"src": "u2", "dst": "p1", "seq": 0}, {"src": "u2", "dst": "p4", "seq": 1}],
    "VIEWED": [{"src": "u3", "dst": "p2", "ts": 1_700_000_000}],
    "RATED": [{"src": "u3", "dst": "p4", "ts": 1_700_000_100, "rating": 4.0}],
    "ALSO_BOUGHT": [{"src": "p1", "dst": "p4"}],
    "BOUGHT_TOGETHER": [{"src": "p2", "dst": "p1"}],
    "ALSO_VIEWED": [{"src": "p3", "dst": "p6"}],
    "RECOMMENDED": [
        {"src": "u1", "dst": "p4", "score": 0.9, "model": MODEL, "rank": 1},
        {"src": "u1", "dst": "p2", "score": 0.5, "model": MODEL, "rank": 2},
        {"src": "u2", "dst": "p2", "score": 0.7, "model": MODEL, "rank": 1},
        {"src": "u3", "dst": "p1", "score": 0.8, "model": MODEL, "rank": 1},
    ],
    "SIMILAR_TO": [{"src": "p1", "dst": "p4", "score": 0.95, "model": MODEL, "rank": 1},
                   {"src": "p1", "dst": "p2", "score": 0.85, "model": MODEL, "rank": 2}],
}


def build_small_graph(store: GraphStore) -> None:
    """Write the graph above into an empty, schema-initialised store."""
    for label, rows in (("Brand", BRANDS), ("Category", CATEGORIES), ("Entity", ENTITIES), ("Product", PRODUCTS),
                        ("User", USERS)):
        store.upsert_nodes(label, rows)
    for rel_type, edges in EDGES.items():
        result = store.upsert_relationships(rel_type, edges)
        assert result.missing_endpoints == 0, rel_type
