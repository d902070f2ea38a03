// Record breaches by their deterministic id: MERGE makes each breach exist once however
// often it is evaluated. `fresh` says which were new (they are the ones to alert on).
// The latest evaluation's figure is kept as `observed` (a running run's duration grows),
// and so are `at` and `provisional` (found by the clock on unfinished work): the last
// evaluation of a subject's facts decides, whatever order its events arrived in.
// MATCH (never MERGE) on the SLA and subject: evaluation must not recreate wiped nodes.
// (SLABreach)-[:ON]->(x) links the run or step run that breached; a `missing_run` breach
// (a cron fire time that no run covered, subject_label 'Pipeline') has no run, so it is
// linked to the scheduled Pipeline instead, and carries no `subject`.
// Fenced (issue 20): written only while $fence (the SLA lease's holder and token) is
// still current; the lease node is locked (SET) so a takeover cannot commit in between.
// A null $fence is unfenced (a tool or test running the evaluator on its own).
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH lease
WHERE $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token)
UNWIND $rows AS row
MATCH (s:SLA {id: row.sla_id})
OPTIONAL MATCH (old:SLABreach {id: row.id})
// A success-rate breach names its window's last failure, which later events can change:
// then it is relinked to the new one.
// `changed`: a new breach or a different figure, time, provisional flag or subject; only
// then does its version grow (docs/live-deltas.md: +1 per write that changes it).
WITH s, row, old IS NULL AS fresh,
     old IS NOT NULL AND coalesce(old.subject, '') <> coalesce(row.subject, '') AS moved,
     coalesce(old IS NULL OR old.observed <> row.observed
              OR old.at <> datetime({epochMillis: row.at_ms})
              OR old.provisional <> row.provisional
              OR coalesce(old.subject, '') <> coalesce(row.subject, ''), true) AS changed
MERGE (b:SLABreach {id: row.id})
  ON CREATE SET b.kind = row.kind, b.threshold = row.threshold, b.sla = row.sla_id,
                b.pipeline = row.pipeline, b.step = row.step,
                b.detected_at = datetime({epochMillis: $now_ms})
SET b.observed = row.observed, b.at = datetime({epochMillis: row.at_ms}),
    b.provisional = row.provisional, b.subject = row.subject,
    b.version = coalesce(b.version, 0) + CASE WHEN changed THEN 1 ELSE 0 END
MERGE (b)-[:OF]->(s)
WITH b, row, fresh, changed, fresh OR moved AS link
CALL (b, link) {
  WITH b WHERE link
  OPTIONAL MATCH (b)-[on:ON]->()
  DELETE on
}
CALL (b, row, link) {
  WITH b, row WHERE link AND row.subject_label = 'Run'
  MATCH (r:Run {id: row.subject})
  MERGE (b)-[:ON]->(r)
}
CALL (b, row, link) {
  WITH b, row WHERE link AND row.subject_label = 'StepRun'
  MATCH (t:StepRun {id: row.subject})
  MERGE (b)-[:ON]->(t)
}
CALL (b, row, link) {
  WITH b, row WHERE link AND row.subject_label = 'Pipeline'
  MATCH (p:Pipeline {name: row.pipeline})
  MERGE (b)-[:ON]->(p)
}
RETURN b.id AS id, fresh, changed
