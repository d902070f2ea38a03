// Retention: delete archived events (their ABOUT edge goes with them). One batch, one
// transaction; the seqs come in a map (one plan whatever the batch size).
// Fenced (issue 20): applied only while $fence (the retention lease's holder and token)
// is current; the lease node is locked (SET) so a takeover cannot commit in between. A
// null $fence is unfenced (the CLI). `current` says which it was.
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token) AS current
CALL (current) {
  WITH current WHERE current
  UNWIND $batch.seqs AS seq
  MATCH (e:Event {seq: seq})
  DETACH DELETE e
  RETURN count(*) AS deleted
}
RETURN current, deleted
