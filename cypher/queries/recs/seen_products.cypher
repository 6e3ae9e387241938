// purpose: the products each user of a batch has interacted with (left out of their recommendations)
// params: $user_ids
// example: {"user_ids": ["A3G6XNM240RMWA"]}
UNWIND $user_ids AS uid
MATCH (u:User {id: uid})-[:PURCHASED|VIEWED|RATED]->(p:Product)
RETURN u.id AS user_id, p.id AS product_id
