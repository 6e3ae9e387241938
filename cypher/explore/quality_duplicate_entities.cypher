// purpose: data quality: likely duplicate entities: different nodes whose names match once case, punctuation,
// purpose: spaces and a plural "s" are ignored (e.g. "Ink-Cartridges" and "ink cartridge")
// params: $limit
// example: {"limit": 20}
// note: Neo4j has no regex replace without APOC, so the key keeps letters and digits with reduce() over characters.
MATCH (e:Entity)
WITH e, reduce(s = '', ch IN split(toLower(e.name), '') | s + CASE WHEN ch =~ '[a-z0-9]' THEN ch ELSE '' END) AS k
WITH e, CASE WHEN k ENDS WITH 's' AND size(k) > 3 THEN left(k, size(k) - 1) ELSE k END AS key
WITH key, collect(DISTINCT e.id) AS ids, collect(DISTINCT e.name) AS names, collect(DISTINCT e.type) AS types
WHERE size(ids) > 1
RETURN key, size(ids) AS nodes, ids AS entity_ids, names, types
ORDER BY nodes DESC, key
LIMIT $limit
