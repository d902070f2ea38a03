// SLA breaches newest first, with their SLA and owners (of the governed pipeline/step,
// plus the pipeline's owner). Filters: $status (open | acknowledged | resolved),
// $pipeline, $owner (owner id), $ids; all optional.
MATCH (b:SLABreach)
WHERE ($pipeline IS NULL OR b.pipeline = $pipeline)
  AND ($ids IS NULL OR b.id IN $ids)
  AND ($status IS NULL
       OR ($status = 'open' AND b.resolved_at IS NULL AND b.acknowledged_at IS NULL)
       OR ($status = 'acknowledged' AND b.acknowledged_at IS NOT NULL AND b.resolved_at IS NULL)
       OR ($status = 'resolved' AND b.resolved_at IS NOT NULL))
OPTIONAL MATCH (b)-[:OF]->(s:SLA)
CALL (s) {
  OPTIONAL MATCH (s)<-[:GOVERNED_BY]-()-[:OWNED_BY]->(o:Owner)
  RETURN collect(DISTINCT o) AS direct
}
CALL (b) {
  OPTIONAL MATCH (:Pipeline {name: b.pipeline})-[:OWNED_BY]->(o:Owner)
  RETURN collect(o) AS pipeline_owners
}
WITH b, s, direct + [o IN pipeline_owners WHERE NOT o IN direct] AS owners
WHERE $owner IS NULL OR any(o IN owners WHERE o.id = $owner)
RETURN properties(b) AS b, properties(s) AS sla, [o IN owners | properties(o)] AS owners
ORDER BY b.at DESC, b.id
LIMIT $limit
