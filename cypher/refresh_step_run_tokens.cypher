// A step run's tokens: the larger of what it reported and what its calls used.
UNWIND $step_runs AS step_run_id
MATCH (sr:StepRun {id: step_run_id})
CALL (sr) {
  OPTIONAL MATCH (c:LLMCall {step_run: sr.id})
  WITH c ORDER BY c.id
  RETURN sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)) AS llm_tokens,
         reduce(total = 0.0, x IN collect(coalesce(c.cost_usd, 0.0)) | total + x) AS cost_usd
}
SET sr.llm_tokens = llm_tokens, sr.cost_usd = cost_usd,
    sr.tokens_used = CASE
      WHEN coalesce(sr.reported_tokens, 0) > llm_tokens THEN sr.reported_tokens
      ELSE llm_tokens END
