// purpose: active products of a brand, by title
// params: $brand_id, $limit
// example: {"brand_id": "hp", "limit": 25}
MATCH (p:Product)-[:MADE_BY]->(b:Brand {id: $brand_id})
WHERE p.active = true
RETURN p.id AS id, p.title AS title
ORDER BY title
LIMIT $limit
