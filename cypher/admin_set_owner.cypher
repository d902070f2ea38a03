// An admin sets the owner of a pipeline ($step null) or of one of its defined steps.
// No row when the pipeline or step is unknown; else the owner it replaces (or null).
// The target is write-locked first, so concurrent changes see each other's result.
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
  OPTIONAL MATCH (t)-[r:OWNED_BY]->(o:Owner)
  DELETE r
  RETURN collect(o.id)[0] AS before
}
MERGE (o:Owner {id: $owner.id}) ON CREATE SET o.kind = $owner.kind, o.name = $owner.name
MERGE (t)-[:OWNED_BY]->(o)
RETURN before
