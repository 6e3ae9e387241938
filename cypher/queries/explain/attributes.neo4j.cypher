// purpose: 3-hop explanation: brands, categories and entities that items of user $user_id share with product
//   $product_id, with how many of the user's items share each (support) and one of them (q_id)
// params: $user_id, $product_id
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B002S8TOYU"}
// used by: GET /users/{user_id}/explanations/{product_id} (api/explain.py)
// dialect: Neo4j override of attributes.cypher (type() and labels() where Kuzu has label()).
MATCH (u:User {id: $user_id})-[r1:PURCHASED|VIEWED|RATED]->(q:Product)-[r2:MADE_BY|IN_CATEGORY|MENTIONS]->(x)<-[r3:MADE_BY|IN_CATEGORY|MENTIONS]-(p:Product {id: $product_id})
WHERE q.id <> p.id
RETURN labels(x)[0] AS x_label, x.id AS x_id, type(r2) AS rel2, min(type(r1)) AS rel1, min(q.id) AS q_id,
       count(DISTINCT q) AS support
ORDER BY x_id
