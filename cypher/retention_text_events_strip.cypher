// Text retention: the payloads without their text (archived first), marked so the next
// pass skips them and replay from the archive knows to take the original back.
// Fenced (issue 20): applied only while $fence (the retention lease's holder and token)
// is current; the lease node is locked (SET) so a takeover cannot commit in between. A
// null $fence is unfenced (the CLI). `current` says which it was.
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token) AS current
CALL (current) {
  WITH current WHERE current
  UNWIND $batch.rows AS row
  MATCH (e:Event {seq: row.seq})
  SET e.payload = row.payload, e.text_removed = true
  RETURN count(*) AS stripped
}
RETURN current, stripped
