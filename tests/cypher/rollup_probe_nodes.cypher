// Test data for the rollup rebuild's Cypher arithmetic: LLM calls, step runs and runs
// with the given properties, their times from epoch ms ($calls etc.: {props, t}).
CALL () {
  UNWIND $calls AS row
  CREATE (c:LLMCall)
  SET c = row.props, c.received_at = datetime({epochMillis: row.t})
}
CALL () {
  UNWIND $step_runs AS row
  CREATE (sr:StepRun)
  SET sr = row.props, sr.started_at = datetime({epochMillis: row.t})
}
CALL () {
  UNWIND $runs AS row
  CREATE (r:Run)
  SET r = row.props, r.started_at = datetime({epochMillis: row.t})
}
