// An admin sets (or, with $sla null, removes) the SLA of a pipeline ($step null) or of
// one of its defined steps, keyed like a definition's (pipeline:<name>,
// step:<pipeline>/<key>) so SLA evaluation reads it the same way. No row when the
// pipeline or step is unknown; else the SLA's properties it replaces (or null).
CALL () {
  MATCH (p:Pipeline {name: $pipeline}) WHERE $step IS NULL
  RETURN p AS t
  UNION
  MATCH (:Pipeline {name: $pipeline})-[:HAS_STEP]->(s:Step {id: $pipeline + '/' + $step})
  RETURN s AS t
}
SET t._lock = true
REMOVE t._lock
WITH t
// The pipeline card shows owners and the SLA: its version grows with each admin change.
CALL (t) {
  MATCH (p:Pipeline {name: $pipeline})
  SET p.card_version = coalesce(p.card_version, 0) + 1
}
CALL (t) {
  OPTIONAL MATCH (t)-[g:GOVERNED_BY]->(s:SLA)
  WITH g, properties(s) AS props
  DELETE g
  RETURN collect(props)[0] AS before
}
FOREACH (sla IN CASE WHEN $sla IS NULL THEN [] ELSE [$sla] END |
  MERGE (s:SLA {id: sla.id})
  SET s = sla
  MERGE (t)-[:GOVERNED_BY]->(s))
RETURN before
