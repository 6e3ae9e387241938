// purpose: data quality at a glance: products without a brand, a category, entities, a title or a price
// params: none
// example: {}
MATCH (p:Product)
RETURN count(p) AS products,
       count(CASE WHEN p.active = false THEN 1 END) AS inactive,
       count(CASE WHEN NOT EXISTS { MATCH (p)-[:MADE_BY]->(:Brand) } THEN 1 END) AS without_brand,
       count(CASE WHEN NOT EXISTS { MATCH (p)-[:IN_CATEGORY]->(:Category) } THEN 1 END) AS without_category,
       count(CASE WHEN NOT EXISTS { MATCH (p)-[:MENTIONS]->(:Entity) } THEN 1 END) AS without_entities,
       count(CASE WHEN p.title IS NULL OR p.title = '' THEN 1 END) AS without_title,
       count(CASE WHEN p.price IS NULL THEN 1 END) AS without_price
