// purpose: 2-hop explanation: items of user $user_id co-bought or co-viewed with product $product_id
// params: $user_id, $product_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B002S8TOYU", "limit": 5}
// used by: GET /users/{user_id}/explanations/{product_id} (api/explain.py)
// dialect: Neo4j override of links.cypher (type() and labels() where Kuzu has label()).
MATCH (u:User {id: $user_id})-[r1:PURCHASED|VIEWED|RATED]->(q:Product)-[r2:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-(p:Product {id: $product_id})
WHERE q.id <> p.id
RETURN DISTINCT type(r1) AS rel1, q.id AS q_id, type(r2) AS rel2
ORDER BY q_id, rel2
LIMIT $limit
