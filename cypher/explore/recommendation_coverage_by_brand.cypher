// purpose: recommendation coverage by brand: how many of a brand's active products the model recommends, and how often
// params: $limit
// example: {"limit": 25}
// note: over the RECOMMENDED edges in the graph (cartograph export-recs writes one model's edges at a time).
// note: coverage = recommended_products / products (active products only).
// note: written as two aggregations in this order on purpose: Kuzu 0.11 miscounts count(r) over an OPTIONAL MATCH
// note: when a total from an earlier MATCH is carried along (found while writing this kit; the tests check the counts).
MATCH (p:Product)-[:MADE_BY]->(b:Brand)
WHERE p.active = true
WITH b, count(p) AS products
OPTIONAL MATCH (b)<-[:MADE_BY]-(q:Product)<-[r:RECOMMENDED]-(:User)
WHERE q.active = true
WITH b, products, count(r) AS recommendations, count(DISTINCT q) AS recommended_products
RETURN b.id AS brand_id, b.name AS brand, products, recommended_products,
       round(1.0 * recommended_products / products, 3) AS coverage, recommendations
ORDER BY recommendations DESC, products DESC, brand_id
LIMIT $limit
