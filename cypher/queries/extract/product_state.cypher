// purpose: every product's text hash beside the hash and extractor entity extraction last ran with (incremental runs)
// params: none
// example: {}
MATCH (p:Product)
RETURN p.id AS id, p.text_hash AS text_hash, p.extracted_hash AS extracted_hash, p.extracted_by AS extracted_by
