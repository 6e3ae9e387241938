// purpose: data quality: likely duplicate entities: different nodes whose names match once case, punctuation,
// purpose: spaces and a plural "s" are ignored (e.g. "Ink-Cartridges" and "ink cartridge")
// params: $limit
// example: {"limit": 20}
// dialect: Kuzu has regexp_replace (the portable file spells the same key with reduce() over characters).
MATCH (e:Entity)
WITH e, regexp_replace(lower(e.name), '[^a-z0-9]', '', 'g') AS k
WITH e, CASE WHEN k ENDS WITH 's' AND size(k) > 3 THEN left(k, size(k) - 1) ELSE k END AS key
WITH key, collect(DISTINCT e.id) AS ids, collect(DISTINCT e.name) AS names, collect(DISTINCT e.type) AS types
WHERE size(ids) > 1
RETURN key, size(ids) AS nodes, ids AS entity_ids, names, types
ORDER BY nodes DESC, key
LIMIT $limit
