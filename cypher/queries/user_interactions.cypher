// purpose: a user's interactions with products, oldest first (by timestamp, then by position in history)
// params: $user_id, $limit
// example: {"user_id": "A1YJEY40YUW4SE", "limit": 20}
MATCH (u:User {id: $user_id})-[r:PURCHASED|VIEWED|RATED]->(p:Product)
RETURN p.id AS product_id, p.title AS title, label(r) AS kind, r.ts AS ts, r.seq AS seq, r.rating AS rating
ORDER BY ts, seq, product_id
LIMIT $limit
