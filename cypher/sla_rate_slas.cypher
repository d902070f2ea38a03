// SLAs with a minimum success rate ($ids: only these, or all when null), with the
// pipeline (and step key) whose runs (step runs) they rate.
MATCH (x)-[:GOVERNED_BY]->(s:SLA)
WHERE s.min_success_rate IS NOT NULL AND ($ids IS NULL OR s.id IN $ids)
RETURN properties(s) AS sla,
       CASE WHEN x:Pipeline THEN x.name ELSE x.pipeline END AS pipeline,
       CASE WHEN x:Step THEN x.key END AS step
