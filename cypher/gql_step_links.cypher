// Upstream steps, owner and SLA of each step.
UNWIND $ids AS id
MATCH (s:Step {id: id})
RETURN id,
       [(s)-[:DEPENDS_ON]->(d:Step) | d { .id, .key, .name, .kind }] AS depends_on,
       head([(s)-[:OWNED_BY]->(o:Owner) | properties(o)]) AS owner,
       head([(s)-[:GOVERNED_BY]->(x:SLA) | properties(x)]) AS sla
