// purpose: brands that co-occur in users' histories: pairs of brands bought (or viewed, rated) by the same users
// params: $min_users, $limit
// example: {"min_users": 3, "limit": 25}
MATCH (b1:Brand)<-[:MADE_BY]-(:Product)<-[:PURCHASED|VIEWED|RATED]-(u:User)-[:PURCHASED|VIEWED|RATED]->(:Product)-[:MADE_BY]->(b2:Brand)
WHERE b1.id < b2.id
WITH b1, b2, count(DISTINCT u) AS users
WHERE users >= $min_users
RETURN b1.id AS brand_a_id, b1.name AS brand_a, b2.id AS brand_b_id, b2.name AS brand_b, users
ORDER BY users DESC, brand_a_id, brand_b_id
LIMIT $limit
