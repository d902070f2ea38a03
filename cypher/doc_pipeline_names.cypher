// Every pipeline's name (the scope of pipelineChanged without names), capped.
MATCH (p:Pipeline)
RETURN p.name AS name
ORDER BY name
LIMIT $limit
