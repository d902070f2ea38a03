// A pipeline.owner_set event (an admin's setOwner, from the log): the owner of a
// pipeline ($step null) or of one of its defined steps. No row when the pipeline or step
// is unknown (the event then changes nothing); else the owner it replaces (or null).
// Applied by the event writer in seq order with the other events (a definition after it
// replaces it, one before it is replaced by it), live and in a replay alike; the event's
// own log row counts towards the pipeline card's version (apply_batch).
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
CALL (t) {
  OPTIONAL MATCH (t)-[r:OWNED_BY]->(o:Owner)
  DELETE r
  RETURN collect(o.id)[0] AS before
}
MERGE (o:Owner {id: $owner.id}) ON CREATE SET o.kind = $owner.kind, o.name = $owner.name
MERGE (t)-[:OWNED_BY]->(o)
RETURN before
