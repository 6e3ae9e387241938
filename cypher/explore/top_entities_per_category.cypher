// purpose: the most connected entities of each category: the entities mentioned by most of its products
// params: $min_products, $per_category
// example: {"min_products": 2, "per_category": 3}
// note: ties at the cut are dropped in the order of entity id (Kuzu's file keeps them; see there).
MATCH (c:Category)<-[:IN_CATEGORY]-(p:Product)-[:MENTIONS]->(e:Entity)
WITH c, e, count(DISTINCT p) AS products
WHERE products >= $min_products
WITH c, e, products ORDER BY products DESC, e.id
WITH c, collect({entity_id: e.id, entity: e.name, entity_type: e.type, products: products})[0..$per_category] AS top
UNWIND top AS t
RETURN c.id AS category_id, c.name AS category, t.entity_id AS entity_id, t.entity AS entity,
       t.entity_type AS entity_type, t.products AS products
ORDER BY category_id, products DESC, entity_id
