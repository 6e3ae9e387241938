// purpose: the ids of the products that may be recommended: every product not marked inactive
// params: none
// example: {}
MATCH (p:Product)
WHERE p.active IS NULL OR p.active = true
RETURN p.id AS id
