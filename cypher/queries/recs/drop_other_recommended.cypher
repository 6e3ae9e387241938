// purpose: delete the RECOMMENDED edges of every model but $model (the last step of export-recs: users no longer
// purpose: in the bundle keep no stale recommendations)
// params: $model
// example: {"model": "gnn@20250101T120000Z-abcd1234-0a1b2c"}
MATCH (:User)-[r:RECOMMENDED]->(:Product)
WHERE r.model IS NULL OR r.model <> $model
DELETE r
RETURN count(*) AS deleted
