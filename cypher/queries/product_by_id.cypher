// purpose: one product with its brand and categories
// params: $id (product id)
// example: {"id": "B000GFCRGO"}
// note: coalesce() because the embedded engine returns null, not [], for collect() over no rows
MATCH (p:Product {id: $id})
OPTIONAL MATCH (p)-[:MADE_BY]->(b:Brand)
OPTIONAL MATCH (p)-[:IN_CATEGORY]->(c:Category)
RETURN p.id AS id, p.title AS title, p.price AS price, p.active AS active,
       b.name AS brand, coalesce(collect(c.name), []) AS categories
