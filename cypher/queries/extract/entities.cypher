// purpose: every Entity node (id, name, type): what new mentions are resolved against
// params: none
// example: {}
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, e.type AS type
