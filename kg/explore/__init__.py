"""Exploring the graph: read-only queries (``cartograph query``), the model's recommendations written back
(``cartograph export-recs``) and RDF export (``cartograph export-rdf``). The Cypher kit is in ``cypher/explore/``."""
