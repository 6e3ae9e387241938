// purpose: delete a batch of users' RECOMMENDED edges that are not in their new top-k (run after writing it)
// params: $rows (each {id: user id, keep: [product ids]})
// example: {"rows": [{"id": "A3G6XNM240RMWA", "keep": ["B0030HKJ8I", ""]}]}
// note: every keep list holds "" (no product has that id) so that the engine can type an otherwise empty list.
UNWIND $rows AS row
MATCH (u:User {id: row.id})-[r:RECOMMENDED]->(p:Product)
WHERE NOT p.id IN row.keep
DELETE r
RETURN count(*) AS deleted
