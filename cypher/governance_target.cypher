// Whether an admin change has something to change: the pipeline ($step null) or one of
// its defined steps. Checked before the change is written to the event log.
CALL () {
  MATCH (p:Pipeline {name: $pipeline}) WHERE $step IS NULL
  RETURN p AS t
  UNION
  MATCH (:Pipeline {name: $pipeline})-[:HAS_STEP]->(s:Step {id: $pipeline + '/' + $step})
  RETURN s AS t
}
RETURN count(t) > 0 AS exists
