// purpose: the MENTIONS edges of the given products (removed before their text is extracted again)
// params: $ids
// example: {"ids": ["office:550"]}
UNWIND $ids AS pid
MATCH (p:Product {id: pid})-[:MENTIONS]->(e:Entity)
RETURN p.id AS src, e.id AS dst
