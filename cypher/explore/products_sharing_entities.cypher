// purpose: products that share entities with a product, most shared first, with the entities they share
// params: $product_id, $min_shared, $limit
// example: {"product_id": "office:10", "min_shared": 1, "limit": 10}
MATCH (p:Product {id: $product_id})-[:MENTIONS]->(e:Entity)<-[:MENTIONS]-(q:Product)
WHERE q.id <> p.id
WITH q, collect(DISTINCT e.name) AS shared
WHERE size(shared) >= $min_shared
RETURN q.id AS product_id, q.title AS title, size(shared) AS shared_count, shared AS shared_entities
ORDER BY shared_count DESC, product_id
LIMIT $limit
