// purpose: the recommendations written back for a user (cartograph export-recs), best first, with brand
// params: $user_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "limit": 10}
MATCH (u:User {id: $user_id})-[r:RECOMMENDED]->(p:Product)
OPTIONAL MATCH (p)-[:MADE_BY]->(b:Brand)
RETURN r.rank AS rank, p.id AS product_id, p.title AS title, b.name AS brand, r.score AS score, r.model AS model
ORDER BY model, rank, product_id
LIMIT $limit
