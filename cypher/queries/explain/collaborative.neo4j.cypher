// purpose: 3-hop explanation: items of user $user_id that other users share, who interacted with product
//   $product_id; per item, how many such users (support). Only the count: an explanation never names
//   another shopper (docs/privacy.md).
// params: $user_id, $product_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B002S8TOYU", "limit": 5}
// used by: GET /users/{user_id}/explanations/{product_id} (api/explain.py)
// dialect: Neo4j override of collaborative.cypher (type() and labels() where Kuzu has label()).
MATCH (u:User {id: $user_id})-[r1:PURCHASED|VIEWED|RATED]->(q:Product)<-[r2:PURCHASED|VIEWED|RATED]-(v:User)-[r3:PURCHASED|VIEWED|RATED]->(p:Product {id: $product_id})
WHERE v.id <> u.id AND q.id <> p.id
RETURN q.id AS q_id, min(type(r1)) AS rel1, min(type(r2)) AS rel2, min(type(r3)) AS rel3,
       count(DISTINCT v) AS support
ORDER BY support DESC, q_id
LIMIT $limit
