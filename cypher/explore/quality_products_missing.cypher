// purpose: data quality: the products without a brand, a category or entities, and which of the three they lack
// params: $limit
// example: {"limit": 20}
MATCH (p:Product)
WITH p, NOT EXISTS { MATCH (p)-[:MADE_BY]->(:Brand) } AS no_brand,
     NOT EXISTS { MATCH (p)-[:IN_CATEGORY]->(:Category) } AS no_category,
     NOT EXISTS { MATCH (p)-[:MENTIONS]->(:Entity) } AS no_entities
WHERE no_brand OR no_category OR no_entities
RETURN p.id AS product_id, p.title AS title, no_brand, no_category, no_entities
ORDER BY product_id
LIMIT $limit
