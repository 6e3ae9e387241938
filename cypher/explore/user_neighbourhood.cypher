// purpose: a user's neighbourhood: every product they interacted with, with its brand, categories and entities
// params: $user_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "limit": 20}
// dialect: Kuzu names a relationship's type with label(r); the Neo4j file uses type(r).
MATCH (u:User {id: $user_id})-[r:PURCHASED|VIEWED|RATED]->(p:Product)
OPTIONAL MATCH (p)-[:MADE_BY]->(b:Brand)
WITH p, r, b
OPTIONAL MATCH (p)-[:IN_CATEGORY]->(c:Category)
WITH p, r, b, collect(DISTINCT c.name) AS categories
OPTIONAL MATCH (p)-[:MENTIONS]->(e:Entity)
RETURN p.id AS product_id, p.title AS title, label(r) AS kind, r.seq AS seq, r.ts AS ts,
       b.name AS brand, coalesce(categories, []) AS categories, coalesce(collect(DISTINCT e.name), []) AS entities
ORDER BY ts, seq, product_id
LIMIT $limit
