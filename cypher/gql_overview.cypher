// The header bar: active runs, today's tokens and cost (LLM calls whose response was
// received since $since, UTC midnight), and the last allocated event seq. Today's
// figures sum the hour rollups of kind 'call' from midnight when the rollups are
// complete (store/rollups.py; exact: whole hours), else every call of the day. Both
// sums are planned, but the one not wanted seeks from a null bound, which finds
// nothing: a filter on the flag alone was placed above the seek, and the graph's
// branch read every call of the day even with the rollups complete.
OPTIONAL MATCH (state:RollupState {name: 'rollups'})
WITH coalesce(state.complete, false) AS rolled_up
CALL () {
  MATCH (r:Run {status: 'running'})
  RETURN count(r) AS active_runs
}
CALL (rolled_up) {
  MATCH (u:Rollup)
  USING INDEX u:Rollup(kind, level, t)
  WHERE u.kind = 'call' AND u.level = 'h'
    AND u.t >= CASE WHEN rolled_up THEN $since.epochMillis END
  RETURN sum(u.input_tokens + u.output_tokens) AS rolled_tokens,
         sum(u.cost_nano) / 1.0e9 AS rolled_cost
}
CALL (rolled_up) {
  MATCH (c:LLMCall)
  WHERE c.received_at >= CASE WHEN rolled_up THEN null ELSE $since END
  RETURN sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)) AS exact_tokens,
         sum(coalesce(c.cost_usd, 0.0)) AS exact_cost
}
OPTIONAL MATCH (s:Sequence {name: 'event'})
RETURN active_runs,
       CASE WHEN rolled_up THEN rolled_tokens ELSE exact_tokens END AS tokens_today,
       CASE WHEN rolled_up THEN rolled_cost ELSE exact_cost END AS cost_today_usd,
       coalesce(s.value, 0) AS last_seq
