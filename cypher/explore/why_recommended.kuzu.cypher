// purpose: why product X is (or would be) recommended to user Y: the graph paths of at most 3 hops joining them
// params: $user_id, $product_id, $limit
// example: {"user_id": "A3G6XNM240RMWA", "product_id": "B0030HKJ8I", "limit": 10}
// dialect: Kuzu has no list comprehensions (list_transform / list_filter with lambdas instead), names types
// dialect: with label(), returns relationships with rels(), and matches walks unless is_trail() asks for trails
// dialect: (Neo4j's default); list_reduce() joins the path where Neo4j uses reduce().
MATCH path = (u:User {id: $user_id})-[:PURCHASED|VIEWED|RATED|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|MADE_BY|IN_CATEGORY|MENTIONS*1..3]-(t:Product {id: $product_id})
WHERE is_trail(path)
WITH length(path) AS hops, list_transform(nodes(path), n -> label(n) + ':' + n.id) AS node_ids,
     list_transform(nodes(path), n -> coalesce(n.title, n.name, n.id)) AS node_names,
     list_transform(rels(path), r -> label(r)) AS rel_types
WITH hops, node_ids, node_names, rel_types, size(list_filter(rel_types, r -> r = 'IN_CATEGORY')) AS category_hops
RETURN hops, category_hops, list_reduce(node_ids, (a, b) -> a + ' > ' + b) AS path, rel_types, node_names
ORDER BY hops, category_hops, path
LIMIT $limit
