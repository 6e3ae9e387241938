// purpose: what the data-quality assessment needs of every product (cartograph info)
// params: none
// example: {}
MATCH (p:Product)
OPTIONAL MATCH (p)-[:MADE_BY]->(b:Brand)
OPTIONAL MATCH (p)-[:IN_CATEGORY]->(c:Category)
RETURN p.id AS id, p.title AS title, p.title_raw AS title_raw, p.description AS description, p.price AS price,
       count(DISTINCT b) AS brand, count(DISTINCT c) AS categories
