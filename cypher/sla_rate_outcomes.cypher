// The rated outcomes each success-rate verdict needs: runs of the pipeline (or step
// runs of the step) that ended in [since, until] (epoch ms, event time), in the order
// the verdicts walk them. Skipped work is not rated.
UNWIND $rows AS row
CALL (row) {
  WITH row WHERE row.step IS NULL
  MATCH (r:Run)
  WHERE r.pipeline = row.pipeline
    AND r.ended_at >= datetime({epochMillis: row.since})
    AND r.ended_at <= datetime({epochMillis: row.until})
    AND r.status IN ['succeeded', 'failed', 'cancelled']
  RETURN r.status AS status, r.id AS id, r.ended_at.epochMillis AS ended
  UNION ALL
  WITH row WHERE row.step IS NOT NULL
  MATCH (sr:StepRun)
  WHERE sr.pipeline = row.pipeline AND sr.step = row.step
    AND sr.ended_at >= datetime({epochMillis: row.since})
    AND sr.ended_at <= datetime({epochMillis: row.until})
    AND sr.status IN ['succeeded', 'failed', 'cancelled']
  RETURN sr.status AS status, sr.id AS id, sr.ended_at.epochMillis AS ended
}
WITH row, status, id, ended
ORDER BY ended, id
RETURN row.sla_id AS sla_id, collect({ended: ended, status: status, id: id}) AS outcomes
