// Owner, SLA and steps (with their upstream step ids) of each pipeline.
UNWIND $names AS name
MATCH (p:Pipeline {name: name})
RETURN name,
       head([(p)-[:OWNED_BY]->(o:Owner) | properties(o)]) AS owner,
       head([(p)-[:GOVERNED_BY]->(s:SLA) | properties(s)]) AS sla,
       [(p)-[:HAS_STEP]->(st:Step) |
         {step: st { .id, .key, .name, .kind }, deps: [(st)-[:DEPENDS_ON]->(d:Step) | d.id]}] AS steps
