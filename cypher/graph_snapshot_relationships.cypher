// Every relationship by its endpoints' keys.
MATCH (a)-[r]->(b)
RETURN type(r) AS type,
       labels(a)[0] AS from_label, coalesce(a.id, a.name, a.uri) AS from_key,
       labels(b)[0] AS to_label, coalesce(b.id, b.name, b.uri) AS to_key
