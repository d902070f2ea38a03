// Outcomes inside each SLA's window (ended in [since, until], epoch ms): runs of the
// pipeline, or step runs of the step. Skipped work is not rated.
UNWIND $rows AS row
CALL (row) {
  WITH row WHERE row.step IS NULL
  MATCH (r:Run)
  WHERE r.pipeline = row.pipeline
    AND r.ended_at >= datetime({epochMillis: row.since})
    AND r.ended_at <= datetime({epochMillis: row.until})
  RETURN r.status AS status, r.id AS id, r.ended_at AS ended
  UNION ALL
  WITH row WHERE row.step IS NOT NULL
  MATCH (sr:StepRun)
  WHERE sr.pipeline = row.pipeline AND sr.step = row.step
    AND sr.ended_at >= datetime({epochMillis: row.since})
    AND sr.ended_at <= datetime({epochMillis: row.until})
  RETURN sr.status AS status, sr.id AS id, sr.ended_at AS ended
}
WITH row, status, id, ended
ORDER BY ended, id
WITH row,
     count(CASE WHEN status = 'succeeded' THEN 1 END) AS succeeded,
     count(CASE WHEN status IN ['succeeded', 'failed', 'cancelled'] THEN 1 END) AS rated,
     collect(CASE WHEN status IN ['failed', 'cancelled'] THEN id END) AS failed
RETURN row.sla_id AS sla_id, succeeded, rated, failed[-1] AS last_failed
