// purpose: delete a batch of products' SIMILAR_TO edges that are not in their new top-k (run after writing it)
// params: $rows (each {id: product id, keep: [product ids]})
// example: {"rows": [{"id": "B0030HKJ8I", "keep": ["B004ZT0SSG", ""]}]}
// note: every keep list holds "" (no product has that id) so that the engine can type an otherwise empty list.
UNWIND $rows AS row
MATCH (p:Product {id: row.id})-[r:SIMILAR_TO]->(q:Product)
WHERE NOT q.id IN row.keep
DELETE r
RETURN count(*) AS deleted
