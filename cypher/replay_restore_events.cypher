// Replay from the archive: put archived events back into the log as they were stored
// (MERGE on seq: an event still in the log gets its archived original back, e.g. the
// payload text retention took out). The rows come in a map (one plan per page size).
UNWIND $batch.rows AS row
MERGE (e:Event {seq: row.seq})
SET e.id = row.id, e.type = row.type, e.time = datetime(row.time),
    e.received_at = datetime(row.received_at), e.source = row.source,
    e.pipeline = row.pipeline, e.run = row.run, e.step = row.step, e.attempt = row.attempt,
    e.payload = row.payload, e.fingerprint = row.fingerprint, e.principal = row.principal,
    e.redactions = row.redactions, e.redaction_kinds = row.redaction_kinds,
    // Only when no original of a text-stripped payload was archived does it stay marked.
    e.text_removed = CASE WHEN row.text_removed THEN true ELSE null END
RETURN count(*) AS restored
