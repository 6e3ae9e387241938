// purpose: the cleaned title and description of the given products, for entity extraction
// params: $ids
// example: {"ids": ["office:550", "B004ZT0SSG"]}
UNWIND $ids AS pid
MATCH (p:Product {id: pid})
RETURN p.id AS id, p.title AS title, p.description AS description, p.text_hash AS text_hash
