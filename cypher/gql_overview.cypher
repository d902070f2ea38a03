// The header bar: active runs, today's tokens and cost (LLM calls whose response was
// received since $since, UTC midnight), and the last allocated event seq. Today's
// figures sum the hour rollups from midnight when the rollups are complete
// (store/rollups.py; exact: whole hours), else every call of the day.
OPTIONAL MATCH (state:RollupState {name: 'rollups'})
WITH coalesce(state.complete, false) AS rolled_up
CALL () {
  MATCH (r:Run {status: 'running'})
  RETURN count(r) AS active_runs
}
CALL (rolled_up) {
  WITH rolled_up WHERE rolled_up
  MATCH (u:Rollup)
  USING INDEX u:Rollup(kind, level, t)
  WHERE u.kind = 'call' AND u.level = 'h' AND u.t >= $since.epochMillis
  RETURN sum(u.input_tokens + u.output_tokens) AS tokens_today,
         sum(u.cost_nano) / 1.0e9 AS cost_today_usd
  UNION ALL
  WITH rolled_up WHERE NOT rolled_up
  MATCH (c:LLMCall)
  WHERE c.received_at >= $since
  RETURN sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)) AS tokens_today,
         sum(coalesce(c.cost_usd, 0.0)) AS cost_today_usd
}
OPTIONAL MATCH (s:Sequence {name: 'event'})
RETURN active_runs, tokens_today, cost_today_usd, coalesce(s.value, 0) AS last_seq
