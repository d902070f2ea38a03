// Run retention: delete the archived nodes lineage does not need (with their edges), and
// mark the runs kept for lineage so the next pass skips them.
// Fenced (issue 20): applied only while $fence (the retention lease's holder and token)
// is current; the lease node is locked (SET) so a takeover cannot commit in between. A
// null $fence is unfenced (the CLI). `current` says which it was.
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token) AS current
CALL (current) {
  WITH current WHERE current
  UNWIND $batch.delete AS element_id
  MATCH (n) WHERE elementId(n) = element_id
  DETACH DELETE n
}
CALL (current) {
  WITH current WHERE current
  UNWIND $batch.keep_runs AS run_id
  MATCH (r:Run {id: run_id})
  SET r.lineage_only = true
}
RETURN current, CASE WHEN current THEN size($batch.delete) ELSE 0 END AS deleted
