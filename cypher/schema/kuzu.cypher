// Cartograph graph schema for the embedded engine (Kuzu DDL).
// Applied by `cartograph init` (and on first use); every statement is IF NOT EXISTS, so re-running is safe.
// Must agree with kg/schema.py (tests/test_schema.py checks it). Kuzu needs typed tables up front;
// Neo4j is schema-free and gets constraints and indexes instead (neo4j.cypher).

CREATE NODE TABLE IF NOT EXISTS Product(id STRING, title STRING, description STRING, title_raw STRING, description_raw STRING, price DOUBLE, text_hash STRING, active BOOLEAN, source STRING, updated_at STRING, extracted_hash STRING, extracted_by STRING, PRIMARY KEY(id));
CREATE NODE TABLE IF NOT EXISTS User(id STRING, name STRING, source STRING, PRIMARY KEY(id));
CREATE NODE TABLE IF NOT EXISTS Brand(id STRING, name STRING, PRIMARY KEY(id));
CREATE NODE TABLE IF NOT EXISTS Category(id STRING, name STRING, PRIMARY KEY(id));
CREATE NODE TABLE IF NOT EXISTS Entity(id STRING, name STRING, type STRING, PRIMARY KEY(id));

CREATE REL TABLE IF NOT EXISTS PURCHASED(FROM User TO Product, ts INT64, seq INT64, rating DOUBLE, count INT64);
CREATE REL TABLE IF NOT EXISTS VIEWED(FROM User TO Product, ts INT64, seq INT64, rating DOUBLE, count INT64);
CREATE REL TABLE IF NOT EXISTS RATED(FROM User TO Product, ts INT64, seq INT64, rating DOUBLE, count INT64);
CREATE REL TABLE IF NOT EXISTS MADE_BY(FROM Product TO Brand);
CREATE REL TABLE IF NOT EXISTS IN_CATEGORY(FROM Product TO Category);
CREATE REL TABLE IF NOT EXISTS SUBCATEGORY_OF(FROM Category TO Category);
CREATE REL TABLE IF NOT EXISTS ALSO_BOUGHT(FROM Product TO Product);
CREATE REL TABLE IF NOT EXISTS ALSO_VIEWED(FROM Product TO Product);
CREATE REL TABLE IF NOT EXISTS BOUGHT_TOGETHER(FROM Product TO Product);
CREATE REL TABLE IF NOT EXISTS MENTIONS(FROM Product TO Entity, source STRING, extractor STRING, confidence DOUBLE, surface STRING);
CREATE REL TABLE IF NOT EXISTS RECOMMENDED(FROM User TO Product, score DOUBLE, model STRING, rank INT64);
CREATE REL TABLE IF NOT EXISTS SIMILAR_TO(FROM Product TO Product, score DOUBLE, model STRING, rank INT64);
