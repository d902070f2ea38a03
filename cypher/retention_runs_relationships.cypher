// Run retention: every relationship of the nodes about to be pruned, by its endpoints'
// keys (for the archive).
UNWIND $batch.element_ids AS element_id
MATCH (n) WHERE elementId(n) = element_id
MATCH (n)-[rel]-()
WITH DISTINCT rel
WITH rel, startNode(rel) AS a, endNode(rel) AS b
RETURN type(rel) AS type,
       labels(a)[0] AS from_label, toString(coalesce(a.id, a.name, a.uri)) AS from_key,
       labels(b)[0] AS to_label, toString(coalesce(b.id, b.name, b.uri)) AS to_key
