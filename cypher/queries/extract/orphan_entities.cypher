// purpose: Entity nodes no product mentions any more (after re-extraction of changed text); they are deleted
// params: none
// example: {}
MATCH (e:Entity)
WHERE NOT EXISTS { MATCH (e)<-[:MENTIONS]-(:Product) }
RETURN e.id AS id
