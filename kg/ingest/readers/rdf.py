"""schema.org product data in RDF (JSON-LD or Turtle), read with rdflib.

What is read, for every node typed ``schema:Product`` (or ``IndividualProduct``, ``ProductModel``,
``SomeProducts``), under both ``http://schema.org/`` and ``https://schema.org/``:

- id: ``schema:productID``, else ``schema:sku``, else the node's IRI. A merchant's own identifier wins over the
  IRI because the same product is published at several URLs but keeps its id; a blank node with neither
  cannot be matched to anything later and is reported as a broken record.
- ``schema:name`` -> title, ``schema:description`` -> description (as found; the pipeline cleans them).
- ``schema:brand``: a node with ``schema:name`` (Brand, Organization) or a literal; brand id = slug(name).
- ``schema:category``: a literal, or an IRI (its ``schema:name``/``rdfs:label``, else its last path segment).
- ``schema:offers`` -> ``schema:Offer``: ``schema:price`` (``AggregateOffer``: ``lowPrice``); with several
  offers the lowest price. ``priceCurrency`` is not converted: the prices per currency are counted in
  :attr:`notes` so a mixed-currency file is visible in the ingest report.

JSON-LD documents whose ``@context`` is schema.org's URL get an equivalent inline context instead, so that
reading never needs the network.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from kg.errors import ValidationError
from kg.ingest.readers.base import BaseReader, NameIndex, broken, read_text, record
from kg.ingest.records import RawRecord, RecordKind

SCHEMA_NAMESPACES = (Namespace("http://schema.org/"), Namespace("https://schema.org/"))
PRODUCT_TYPES = ("Product", "IndividualProduct", "ProductModel", "SomeProducts")
INLINE_SCHEMA_CONTEXT = {"@vocab": "http://schema.org/", "schema": "http://schema.org/", "id": "@id", "type": "@type"}
_SCHEMA_CONTEXT_URLS = {f"{scheme}://schema.org{end}" for scheme in ("http", "https") for end in ("", "/")}
FORMAT_BY_SUFFIX = {".jsonld": "json-ld", ".json": "json-ld", ".ttl": "turtle"}


class RdfReader(BaseReader):
    """Products, brands and categories from one schema.org RDF file; the syntax comes from the file suffix
    (``.ttl`` Turtle, ``.jsonld``/``.json`` JSON-LD) unless a subclass fixes it."""

    source: ClassVar[str] = "jsonld"
    rdf_format: ClassVar[str | None] = None

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.syntax = self.rdf_format or FORMAT_BY_SUFFIX.get(self.path.suffix.lower(), "json-ld")
        self.source = "turtle" if self.syntax == "turtle" else "jsonld"  # type: ignore[misc]

    def _read(self) -> Iterator[RawRecord]:
        graph = self._parse()
        brands, categories = NameIndex(RecordKind.BRAND), NameIndex(RecordKind.CATEGORY)
        products: list[RawRecord] = []
        for node in _product_nodes(graph):
            product_id = _product_id(graph, node)
            location = f"{self.path.name}#{product_id or _blank_label(graph, node)}"
            if product_id is None:
                yield broken(RecordKind.PRODUCT, _describe(graph, node), location,
                             "product has no schema:productID, no schema:sku and no IRI (a blank node)")
                continue
            brand_ids = [brands.add(name, location) for name in self._brand_names(graph, node)]
            category_ids = [categories.add(name, location) for name in _category_names(graph, node)]
            products.append(record(RecordKind.PRODUCT, {
                "id": product_id,
                "title": _text(graph, node, "name"),
                "description": _text(graph, node, "description"),
                "price": self._price(graph, node),
                "brand_id": next((b for b in brand_ids if b), None),
                "category_ids": list(dict.fromkeys(c for c in category_ids if c)),
                "source": self.source,
            }, location))
        yield from brands.records()
        yield from categories.records()
        yield from sorted(products, key=lambda r: str(r.data["id"]))

    def _parse(self) -> Graph:
        graph = Graph()
        try:
            with warnings.catch_warnings():  # rdflib's JSON-LD parser uses its own deprecated ConjunctiveGraph
                warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
                if self.syntax == "json-ld":
                    document = _offline_context(json.loads(read_text(self.path)))
                    graph.parse(data=json.dumps(document), format="json-ld", base=self.path.resolve().as_uri())
                else:
                    graph.parse(source=str(self.path), format=self.syntax)
        except ValidationError:
            raise
        except Exception as e:  # rdflib's parsers raise many unrelated types (BadSyntax, ValueError, ...)
            raise ValidationError(f"{self.path}: not valid {self.syntax}: {e}") from e
        return graph

    def _brand_names(self, graph: Graph, node: Node) -> list[str]:
        names = []
        for brand in _objects(graph, node, "brand"):
            name = str(brand) if isinstance(brand, Literal) else _node_name(graph, brand)
            if name is None:
                self.note("brand nodes without a name (ignored)")
            else:
                names.append(name)
        self.note("products with several brands (first kept)", int(len(names) > 1))
        return names

    def _price(self, graph: Graph, node: Node) -> float | str | None:
        """The lowest offer price; a price that is not a number is passed on as found (the pipeline
        quarantines it with the reason)."""
        prices: list[float] = []
        unreadable: list[str] = []
        for offer in _objects(graph, node, "offers"):
            values = _objects(graph, offer, "price") or _objects(graph, offer, "lowPrice")
            for value in values:
                number = _number(value)
                if number is None:
                    unreadable.append(str(value))
                else:
                    prices.append(number)
                    currency = _text(graph, offer, "priceCurrency")
                    self.note(f"prices in {currency} (currency not converted)" if currency
                              else "prices without priceCurrency")
        if prices:
            return min(prices)
        return unreadable[0] if unreadable else None


def _objects(graph: Graph, node: Node, prop: str) -> list[Node]:
    """Values of ``schema:prop`` under both namespaces, in a stable order."""
    found = {o for ns in SCHEMA_NAMESPACES for o in graph.objects(node, ns[prop])}
    return sorted(found, key=lambda o: (isinstance(o, BNode), str(o)))


def _text(graph: Graph, node: Node, prop: str) -> str | None:
    """One literal value: untagged or English first, so a multilingual file gives a stable title."""
    literals = [o for o in _objects(graph, node, prop) if isinstance(o, Literal)]
    literals.sort(key=lambda lit: (lit.language not in (None, "en"), str(lit)))
    return str(literals[0]) if literals else None


def _product_nodes(graph: Graph) -> list[Node]:
    nodes = {s for ns in SCHEMA_NAMESPACES for t in PRODUCT_TYPES for s in graph.subjects(RDF.type, ns[t])}
    return sorted(nodes, key=lambda n: str(n))


def _product_id(graph: Graph, node: Node) -> str | None:
    for prop in ("productID", "sku"):
        value = _text(graph, node, prop)
        if value and value.strip():
            return value.strip()
    return str(node) if isinstance(node, URIRef) else None


def _node_name(graph: Graph, node: Node) -> str | None:
    """A resource's display name: ``schema:name``, ``rdfs:label``, else an IRI's last segment."""
    name = _text(graph, node, "name")
    if name is None:
        labels = [o for o in graph.objects(node, RDFS.label) if isinstance(o, Literal)]
        name = str(sorted(labels)[0]) if labels else None
    if name is None and isinstance(node, URIRef):
        return _iri_name(str(node))
    return name


def _iri_name(iri: str) -> str | None:
    parts = urlsplit(iri)
    tail = parts.fragment or parts.path.rstrip("/").rsplit("/", 1)[-1]
    return unquote(tail).replace("_", " ") or None


def _category_names(graph: Graph, node: Node) -> list[str]:
    names = []
    for value in _objects(graph, node, "category"):
        if isinstance(value, Literal):
            text = str(value)
            name = _iri_name(text) if text.startswith(("http://", "https://")) else text
        else:
            name = _node_name(graph, value)
        if name:
            names.append(name)
    return names


def _number(value: Node) -> float | None:
    if not isinstance(value, Literal):
        return None
    python = value.toPython()
    if isinstance(python, int | float | Decimal) and not isinstance(python, bool):
        try:
            return float(python)
        except OverflowError:  # an integer too large for a float: passed on as not finite, then quarantined
            return float("inf")
    try:
        return float(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError, OverflowError):  # ValueError: a signalling NaN
        return None


def _blank_label(graph: Graph, node: Node) -> str:
    """A blank node's label changes from parse to parse, so a location names it by its title instead."""
    return f"(blank node named {_text(graph, node, 'name')!r})"


def _describe(graph: Graph, node: Node) -> str:
    """The node's triples in N-Triples-like text, for a broken record's ``raw``."""
    return "\n".join(f"{node.n3()} {p.n3()} {o.n3()} ." for p, o in sorted(graph.predicate_objects(node)))


def _offline_context(document: Any) -> Any:
    """``document`` with every schema.org context URL replaced by :data:`INLINE_SCHEMA_CONTEXT`."""
    if isinstance(document, list):
        return [_offline_context(d) for d in document]
    if not isinstance(document, dict):
        return document
    out = {k: _offline_context(v) for k, v in document.items() if k != "@context"}
    if "@context" in document:
        out["@context"] = _replace_context(document["@context"])
    return out


def _replace_context(context: Any) -> Any:
    if isinstance(context, str) and context.strip() in _SCHEMA_CONTEXT_URLS:
        return INLINE_SCHEMA_CONTEXT
    if isinstance(context, list):
        return [_replace_context(c) for c in context]
    return context


class JsonLdReader(RdfReader):
    """schema.org JSON-LD, whatever the file suffix."""

    source = "jsonld"
    rdf_format = "json-ld"


class TurtleReader(RdfReader):
    """schema.org Turtle, whatever the file suffix."""

    source = "turtle"
    rdf_format = "turtle"
