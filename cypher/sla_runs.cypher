// Runs (by id) governed by their pipeline's SLA, with the figures the SLA rules need.
// Tokens: the larger of the run's LLM-call tokens and what its step runs reported.
// Write-locked before read (in the evaluator's write transaction): a commit that changes
// the run waits until the breach verdict on what was read here is written, and the
// evaluation its commit triggers then sees that verdict (see SlaStore.evaluate).
UNWIND $ids AS id
MATCH (r:Run {id: id})-[:OF]->(:Pipeline)-[:GOVERNED_BY]->(s:SLA)
SET r._sla_lock = true
REMOVE r._sla_lock
WITH r, s
CALL (r) {
  OPTIONAL MATCH (r)-[:HAS]->(sr:StepRun)
  RETURN sum(coalesce(sr.tokens_used, 0)) AS step_tokens
}
WITH r, s, step_tokens, coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) AS call_tokens
// Times as epoch ms: ints unpack far cheaper than driver DateTimes.
RETURN r {.id, .pipeline, .status, scheduled_for: r.scheduled_for.epochMillis,
          started_at: r.started_at.epochMillis, ended_at: r.ended_at.epochMillis, .cost_usd,
          tokens: CASE WHEN step_tokens > call_tokens THEN step_tokens ELSE call_tokens END} AS subject,
       properties(s) AS sla
