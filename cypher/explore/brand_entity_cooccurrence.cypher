// purpose: brands and entities that co-occur: how many of a brand's products mention each entity
// params: $min_products, $limit
// example: {"min_products": 2, "limit": 25}
// note: share = products / the brand's products, so a small brand's signature entities stand out too.
MATCH (b:Brand)<-[:MADE_BY]-(bp:Product)
WITH b, count(bp) AS brand_products
MATCH (b)<-[:MADE_BY]-(p:Product)-[:MENTIONS]->(e:Entity)
WITH b, brand_products, e, count(DISTINCT p) AS products
WHERE products >= $min_products
RETURN b.id AS brand_id, b.name AS brand, e.id AS entity_id, e.name AS entity, e.type AS entity_type,
       products, brand_products, round(1.0 * products / brand_products, 3) AS share
ORDER BY products DESC, share DESC, brand_id, entity_id
LIMIT $limit
