// The append-only event log; each event points at the run (or else the pipeline) it is about.
UNWIND $rows AS row
CREATE (e:Event {
  id: row.id, seq: row.seq, type: row.type, time: datetime(row.time), received_at: datetime(row.received_at),
  source: row.source, pipeline: row.pipeline, run: row.run, step: row.step,
  attempt: row.attempt, payload: row.payload, fingerprint: row.fingerprint,
  principal: row.principal, redactions: row.redactions, redaction_kinds: row.redaction_kinds
})
FOREACH (_ IN CASE WHEN row.run IS NOT NULL THEN [1] ELSE [] END |
  MERGE (r:Run {id: row.run})
    // newest-first paging key (start, else schedule time, then id; indexed): a run
    // seen first through any event pages as time 0 until apply_run_events knows better
    ON CREATE SET r.order_key = '0000000000000|' + row.run
  MERGE (e)-[:ABOUT]->(r))
FOREACH (_ IN CASE WHEN row.run IS NULL AND row.pipeline IS NOT NULL THEN [1] ELSE [] END |
  MERGE (p:Pipeline {name: row.pipeline})
  MERGE (e)-[:ABOUT]->(p))
