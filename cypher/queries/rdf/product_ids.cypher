// purpose: every product id, in order (cartograph export-rdf without --product)
// params: none
// example: {}
MATCH (p:Product)
RETURN p.id AS id
ORDER BY id
