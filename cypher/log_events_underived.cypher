// Log-first after an outage (docs/governance.md, "Outages"): the batch's new events go
// into the log only, marked Underived, while the restarted database has not planned
// apply_batch again (seconds of CPU on a cold JVM, tens under load). The catch-up
// (underived_events_page, then the replay's statements) derives them in seq order and
// removes the mark. Same properties as the events block of apply_batch; no edge yet.
// The rows come in a map ($log.rows), as the claim's ids do: a list parameter is planned
// again for each size range (1, 2-10, 11-100, ...), cold after a restart.
UNWIND $log.rows AS row
CREATE (:Event:Underived {
  id: row.id, seq: row.seq, type: row.type, time: datetime(row.time), received_at: datetime(row.received_at),
  source: row.source, pipeline: row.pipeline, run: row.run, step: row.step,
  attempt: row.attempt, payload: row.payload, fingerprint: row.fingerprint,
  principal: row.principal, redactions: row.redactions, redaction_kinds: row.redaction_kinds
})
