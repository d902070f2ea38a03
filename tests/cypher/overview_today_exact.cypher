// Test oracle: the header's today figures computed from every LLM call of the day (the
// statement gql_overview used before the rollups), compared with the rollup answer.
CALL () {
  MATCH (r:Run {status: 'running'})
  RETURN count(r) AS active_runs
}
CALL () {
  MATCH (c:LLMCall)
  WHERE c.received_at >= $since
  RETURN sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)) AS tokens_today,
         sum(coalesce(c.cost_usd, 0.0)) AS cost_today_usd
}
OPTIONAL MATCH (s:Sequence {name: 'event'})
RETURN active_runs, tokens_today, cost_today_usd, coalesce(s.value, 0) AS last_seq
