// Cartograph graph schema for Neo4j 5: uniqueness constraints (which also index the key) and lookup
// indexes. Applied by `cartograph init`; every statement is IF NOT EXISTS, so re-running is safe.
// Must agree with kg/schema.py (tests/test_schema.py checks every label has its key constraint).

CREATE CONSTRAINT product_id IF NOT EXISTS FOR (n:Product) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT brand_id IF NOT EXISTS FOR (n:Brand) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT category_id IF NOT EXISTS FOR (n:Category) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE;

// Lookups used by rebuilds (changed text), serving filters and analysts' queries.
CREATE INDEX product_text_hash IF NOT EXISTS FOR (n:Product) ON (n.text_hash);
CREATE INDEX product_active IF NOT EXISTS FOR (n:Product) ON (n.active);
CREATE INDEX brand_name IF NOT EXISTS FOR (n:Brand) ON (n.name);
CREATE INDEX category_name IF NOT EXISTS FOR (n:Category) ON (n.name);
CREATE INDEX entity_type_name IF NOT EXISTS FOR (n:Entity) ON (n.type, n.name);
CREATE INDEX recommended_model IF NOT EXISTS FOR ()-[r:RECOMMENDED]-() ON (r.model);
CREATE INDEX similar_to_model IF NOT EXISTS FOR ()-[r:SIMILAR_TO]-() ON (r.model);

// Full-text search over product text for analysts in Neo4j Browser.
CREATE FULLTEXT INDEX product_text IF NOT EXISTS FOR (n:Product) ON EACH [n.title, n.description];
