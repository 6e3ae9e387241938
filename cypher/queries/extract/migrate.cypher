// purpose: add the extraction properties to graphs created before they existed (Neo4j is schema-free: nothing to do)
// params: none
// example: {}
RETURN 1 AS ok
