// Test only: the owner of a pipeline (null row when it has none).
MATCH (p:Pipeline {name: $name})
OPTIONAL MATCH (p)-[:OWNED_BY]->(o:Owner)
RETURN o.id AS owner
