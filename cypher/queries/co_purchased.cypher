// purpose: products linked to a product by co-purchase or co-view edges, in either direction
// params: $id, $limit
// example: {"id": "B000GFCRGO", "limit": 10}
MATCH (p:Product {id: $id})-[:ALSO_BOUGHT|BOUGHT_TOGETHER|ALSO_VIEWED]-(q:Product)
WHERE q.active = true
RETURN DISTINCT q.id AS id, q.title AS title
ORDER BY id
LIMIT $limit
