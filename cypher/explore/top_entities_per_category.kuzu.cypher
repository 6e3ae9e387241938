// purpose: the most connected entities of each category: the entities mentioned by most of its products
// params: $min_products, $per_category
// example: {"min_products": 2, "per_category": 3}
// dialect: Kuzu allows ORDER BY in WITH only with LIMIT, cannot sort lists of structs, and indexes lists from 1,
// dialect: so the cut is "count >= the per_category-th largest count": entities tied at the cut are all kept.
MATCH (c:Category)<-[:IN_CATEGORY]-(p:Product)-[:MENTIONS]->(e:Entity)
WITH c, e, count(DISTINCT p) AS products
WHERE products >= $min_products
WITH c, collect({entity_id: e.id, entity: e.name, entity_type: e.type, products: products}) AS found,
     list_sort(collect(products), 'DESC') AS counts
WITH c, found, list_extract(counts, CASE WHEN size(counts) < $per_category THEN size(counts) ELSE $per_category END) AS cut
UNWIND found AS t
WITH c, t, cut
WHERE t.products >= cut
RETURN c.id AS category_id, c.name AS category, t.entity_id AS entity_id, t.entity AS entity,
       t.entity_type AS entity_type, t.products AS products
ORDER BY category_id, products DESC, entity_id
