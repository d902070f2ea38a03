// Tokens and cost of runs are sums over their calls, recomputed for the touched runs so
// any arrival order gives the same totals (summed in call-id order: float addition is
// not associative).
UNWIND $runs AS run_id
MATCH (r:Run {id: run_id})
CALL (r) {
  OPTIONAL MATCH (c:LLMCall {run: r.id})
  WITH c ORDER BY c.id
  RETURN sum(coalesce(c.input_tokens, 0)) AS input_tokens,
         sum(coalesce(c.output_tokens, 0)) AS output_tokens,
         reduce(total = 0.0, x IN collect(coalesce(c.cost_usd, 0.0)) | total + x) AS cost_usd,
         count(CASE WHEN c.cost_estimated THEN 1 END) > 0 AS cost_estimated
}
SET r.input_tokens = input_tokens, r.output_tokens = output_tokens,
    r.cost_usd = cost_usd, r.cost_estimated = cost_estimated
