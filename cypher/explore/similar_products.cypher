// purpose: the products written back as similar to a product (SIMILAR_TO from cartograph export-recs), best first
// params: $product_id, $limit
// example: {"product_id": "B004ZT0SSG", "limit": 10}
MATCH (p:Product {id: $product_id})-[r:SIMILAR_TO]->(q:Product)
OPTIONAL MATCH (q)-[:MADE_BY]->(b:Brand)
RETURN r.rank AS rank, q.id AS product_id, q.title AS title, b.name AS brand, r.score AS score, r.model AS model
ORDER BY model, rank, product_id
LIMIT $limit
