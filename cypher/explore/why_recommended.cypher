// purpose: why product X is (or would be) recommended to user Y: the graph paths of at most 3 hops joining them
// params: $user_id, $product_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B0030HKJ8I", "limit": 10}
// note: model outputs (RECOMMENDED, SIMILAR_TO) are not evidence and are left out of the paths. Shortest first,
// note: then paths through fewer category hops (a category such as "Beauty" joins nearly everything).
// note: in Neo4j Browser, RETURN path instead of the columns to see the paths drawn.
MATCH path = (u:User {id: $user_id})-[:PURCHASED|VIEWED|RATED|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|MADE_BY|IN_CATEGORY|MENTIONS*1..3]-(t:Product {id: $product_id})
WITH length(path) AS hops, [n IN nodes(path) | labels(n)[0] + ':' + n.id] AS node_ids,
     [n IN nodes(path) | coalesce(n.title, n.name, n.id)] AS node_names,
     [r IN relationships(path) | type(r)] AS rel_types
WITH hops, node_ids, node_names, rel_types, size([r IN rel_types WHERE r = 'IN_CATEGORY']) AS category_hops
RETURN hops, category_hops, reduce(s = head(node_ids), x IN tail(node_ids) | s + ' > ' + x) AS path, rel_types,
       node_names
ORDER BY hops, category_hops, path
LIMIT $limit
