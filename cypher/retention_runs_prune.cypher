// Run retention: delete the archived nodes lineage does not need (with their edges), and
// mark the runs kept for lineage so the next pass skips them.
CALL () {
  UNWIND $batch.delete AS element_id
  MATCH (n) WHERE elementId(n) = element_id
  DETACH DELETE n
}
CALL () {
  UNWIND $batch.keep_runs AS run_id
  MATCH (r:Run {id: run_id})
  SET r.lineage_only = true
}
RETURN size($batch.delete) AS deleted
