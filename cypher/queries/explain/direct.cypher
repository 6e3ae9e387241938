// purpose: 1-hop explanation: the interactions of user $user_id with product $product_id
// params: $user_id, $product_id
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B002S8TOYU"}
// used by: GET /users/{user_id}/explanations/{product_id} (api/explain.py)
// dialect: Kuzu names relationship types and node labels with label(); the .neo4j.cypher override uses
//   type() and labels(). One query per kind of path: Kuzu 0.11 crashes on some UNIONs of these patterns.
MATCH (u:User {id: $user_id})-[r1:PURCHASED|VIEWED|RATED]->(p:Product {id: $product_id})
RETURN label(r1) AS rel1
ORDER BY rel1
