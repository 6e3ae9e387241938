// purpose: which of the given product ids exist (cartograph export-rdf --product checks them first)
// params: $ids
// example: {"ids": ["B004ZT0SSG", "no-such-id"]}
MATCH (p:Product)
WHERE p.id IN $ids
RETURN p.id AS id
