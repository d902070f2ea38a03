// A pipeline.sla_set event (an admin's setSla, from the log): the SLA of a pipeline
// ($step null) or of one of its defined steps, or with $sla null its removal. Keyed like
// a definition's (pipeline:<name>, step:<pipeline>/<key>) so SLA evaluation reads it the
// same way. No row when the pipeline or step is unknown (the event then changes
// nothing); else the SLA's properties it replaces (or null). Applied in seq order with
// the other events, like apply_owner_set; its log row counts towards the card version.
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
