// purpose: add the extraction properties to graphs created before they existed (Kuzu tables are typed, and
// purpose: CREATE TABLE IF NOT EXISTS leaves an existing table as it is)
// params: none
// example: {}
ALTER TABLE Product ADD IF NOT EXISTS extracted_hash STRING;
ALTER TABLE Product ADD IF NOT EXISTS extracted_by STRING;
ALTER TABLE MENTIONS ADD IF NOT EXISTS surface STRING;
