// purpose: delete the SIMILAR_TO edges of every model but $model (the last step of export-recs)
// params: $model
// example: {"model": "gnn@20250101T120000Z-abcd1234-0a1b2c"}
MATCH (:Product)-[r:SIMILAR_TO]->(:Product)
WHERE r.model IS NULL OR r.model <> $model
DELETE r
RETURN count(*) AS deleted
