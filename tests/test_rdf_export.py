"""`cartograph export-rdf`: the schema.org mapping on the small graph, subgraphs, and the round trip of the
shipped sample through the JSON-LD reader of the ingestion pipeline."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from explore_graph import build_small_graph
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from typer.testing import CliRunner

from cartograph.cli import app
from kg.config import PROJECT_ROOT, Settings, load_settings
from kg.errors import ValidationError
from kg.explore.rdf_export import CG, DEFAULT_BASE, SCHEMA, RdfExporter, write_rdf
from kg.ingest.run import Format, run_ingest
from kg.store import GraphStore, open_store

SAMPLE = PROJECT_ROOT / "data" / "sample"


def iri(kind: str, node_id: str) -> URIRef:
    return URIRef(f"{DEFAULT_BASE}{kind}/{node_id}")


@pytest.fixture
def graph(store: GraphStore) -> GraphStore:
    build_small_graph(store)
    return store


def test_the_small_graph_maps_to_schema_org_and_the_cartograph_vocabulary(graph: GraphStore, tmp_path: Path) -> None:
    exporter = RdfExporter(graph)
    g = exporter.export(exporter.select_products(None, None), with_users=True)
    p1, p6 = iri("product", "p1"), iri("product", "p6")
    assert (p1, RDF.type, SCHEMA.Product) in g and (p1, SCHEMA.productID, Literal("p1")) in g
    assert (p1, SCHEMA.name, Literal("Acme black ink cartridge")) in g
    assert (p1, SCHEMA.brand, iri("brand", "acme")) in g and (iri("brand", "acme"), SCHEMA.name, Literal("Acme")) in g
    assert (p1, SCHEMA.category, iri("category", "ink")) in g
    assert (iri("category", "ink"), CG.subcategoryOf, iri("category", "office")) in g
    offer = URIRef(f"{p1}#offer")
    assert g.value(offer, SCHEMA.price).toPython() == Decimal("19.99")
    assert (offer, SCHEMA.availability, SCHEMA.InStock) in g
    assert (URIRef(f"{p6}#offer"), SCHEMA.availability, SCHEMA.Discontinued) in g
    assert (p6, CG.active, Literal(False)) in g
    assert (p1, CG.mentions, iri("entity", "colour%3Ablack")) in g  # ids are URL-encoded in IRIs
    assert (iri("entity", "colour%3Ablack"), CG.entityType, Literal("colour")) in g
    assert (p1, CG.alsoBought, iri("product", "p4")) in g
    assert (iri("user", "u3"), CG.rated, iri("product", "p4")) in g
    assert not list(g.triples((None, CG.recommended, None)))  # model outputs are not exported
    c = exporter.counts
    assert (c.products, c.brands, c.categories, c.entities, c.users) == (6, 3, 3, 4, 3)
    # both serialisations hold the same graph
    ttl, jsonld = write_rdf(g, tmp_path, "small", ["turtle", "jsonld"])
    assert isomorphic(Graph().parse(ttl, format="turtle"), g)
    assert isomorphic(Graph().parse(jsonld, format="json-ld"), g)
    assert ttl.read_text().startswith("@prefix cg: <https://cartograph.example/vocab#> .\n@prefix schema:")


def test_a_subgraph_holds_the_products_their_neighbours_and_only_links_among_them(graph: GraphStore) -> None:
    exporter = RdfExporter(graph)
    g = exporter.export(exporter.select_products(["p1", "p2"], None), with_users=True)
    products = set(g.subjects(RDF.type, SCHEMA.Product))
    assert products == {iri("product", "p1"), iri("product", "p2")}
    assert (iri("product", "p2"), CG.boughtTogether, iri("product", "p1")) in g
    assert not list(g.triples((None, CG.alsoBought, None)))  # p1 -> p4 leaves the subgraph
    assert set(g.subjects(RDF.type, CG.Category)) == {iri("category", "ink"), iri("category", "office")}
    assert set(g.subjects(RDF.type, CG.User)) == {iri("user", u) for u in ("u1", "u2", "u3")}
    bare = RdfExporter(graph)
    assert not list(bare.export(bare.select_products(None, 2)).subjects(RDF.type, CG.User))  # the default
    assert bare.counts.products == 2 and bare.counts.users == 0


def test_unknown_products_and_bad_base_iris_are_refused(graph: GraphStore) -> None:
    with pytest.raises(ValidationError, match="no product with id 'nope'"):
        RdfExporter(graph).select_products(["p1", "nope"], None)
    with pytest.raises(ValidationError, match="must end with"):
        RdfExporter(graph, "https://x.example/id")


def _graph_state(settings: Settings) -> dict[str, Any]:
    """What the round trip must keep: products (id, title, description, price), brands, categories, edges."""
    with open_store(settings, read_only=True) as store:
        def rows(cypher: str) -> set[tuple[Any, ...]]:
            return {tuple(r.values()) for r in store.query(cypher)}

        return {
            "products": rows("MATCH (p:Product) RETURN p.id, p.title, p.description, p.price"),
            "brands": rows("MATCH (b:Brand) RETURN b.id, b.name"),
            "categories": rows("MATCH (c:Category) RETURN c.id, c.name"),
            "made_by": rows("MATCH (p:Product)-[:MADE_BY]->(b:Brand) RETURN p.id, b.id"),
            "in_category": rows("MATCH (p:Product)-[:IN_CATEGORY]->(c:Category) RETURN p.id, c.id"),
        }


@pytest.mark.skipif(not (SAMPLE / "MANIFEST.json").is_file(), reason="data/sample/ not generated yet")
def test_the_sample_round_trips_through_json_ld(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CARTOGRAPH_NEO4J_URI", "CARTOGRAPH_CONFIG", "CARTOGRAPH_EMBEDDED_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARTOGRAPH_STORE_BACKEND", "embedded")
    monkeypatch.setenv("CARTOGRAPH_HOME", str(tmp_path / "first"))
    first = load_settings()
    run_ingest(first, SAMPLE, progress=False)
    result = CliRunner().invoke(app, ["export-rdf", "--out", str(tmp_path / "rdf"), "--format", "jsonld"])
    assert result.exit_code == 0, result.output
    assert "2500 products" in " ".join(result.output.split()) and " 0 users" in " ".join(result.output.split())
    assert '"cg:User"' not in (tmp_path / "rdf" / "cartograph.jsonld").read_text()  # users only when asked
    users = CliRunner().invoke(app, ["export-rdf", "--out", str(tmp_path / "with-users"), "--format", "turtle",
                                     "--include-users", "--limit", "20"])
    assert users.exit_code == 0 and " 0 users" not in " ".join(users.output.split()), users.output
    assert "cg:User" in (tmp_path / "with-users" / "cartograph.ttl").read_text()
    second = Settings(store_backend="embedded", home=tmp_path / "second", neo4j_uri=None)
    run = run_ingest(second, tmp_path / "rdf" / "cartograph.jsonld", Format.JSONLD, progress=False)
    assert run.report.quarantined == 0, run.report.quarantine_reasons
    before, after = _graph_state(first), _graph_state(second)
    for key in before:
        assert after[key] == before[key], key
    assert len(before["products"]) == 2500 and len(before["made_by"]) > 2000


def test_turtle_round_trips_prices_through_the_turtle_reader(graph: GraphStore, tmp_path: Path) -> None:
    exporter = RdfExporter(graph)
    [ttl] = write_rdf(exporter.export(exporter.select_products(None, None)), tmp_path, "small", ["turtle"])
    settings = Settings(store_backend="embedded", home=tmp_path / "back", neo4j_uri=None)
    run_ingest(settings, ttl, Format.TURTLE, progress=False)
    with open_store(settings, read_only=True) as store:
        rows = store.query("MATCH (p:Product) RETURN p.id AS id, p.price AS price ORDER BY id")
    assert [(r["id"], r["price"]) for r in rows] == [("p1", 19.99), ("p2", 24.5), ("p3", 5.0), ("p4", None),
                                                     ("p5", None), ("p6", 3.0)]
