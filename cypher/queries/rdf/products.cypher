// purpose: the properties of a chunk of products, as exported to RDF (cartograph export-rdf)
// params: $ids
// example: {"ids": ["B004ZT0SSG", "office:10"]}
UNWIND $ids AS i
MATCH (p:Product {id: i})
RETURN p.id AS id, p.title AS title, p.description AS description, p.title_raw AS title_raw,
       p.description_raw AS description_raw, p.price AS price, p.active AS active, p.source AS source
