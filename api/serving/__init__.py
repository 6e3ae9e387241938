"""What answers a request from memory: the serving index (bundle embeddings + catalog), lexical and dense
search, entity linking, filters, query encoding, and the recommendation and search logic over them."""
