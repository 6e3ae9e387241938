// purpose: brand and category names, the catalog's structured fields that the extraction lexicon is built from
// params: none
// example: {}
MATCH (b:Brand)
RETURN 'brand' AS kind, b.name AS name
UNION ALL
MATCH (c:Category)
RETURN 'category' AS kind, c.name AS name
