// LLM calls answered in [$from_ms, $to_ms) per bucket: latency, tokens, cost (and the
// estimated part of it). Filters as in metrics_step_runs; provider seeks its own index.
CALL () {
  WITH 1 AS one WHERE $pipeline IS NOT NULL
  MATCH (c:LLMCall)
  WHERE c.pipeline = $pipeline
    AND c.received_at >= datetime({epochMillis: $from_ms})
    AND c.received_at < datetime({epochMillis: $to_ms})
  RETURN c
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL AND $provider IS NOT NULL
  MATCH (c:LLMCall)
  WHERE c.provider = $provider
    AND c.received_at >= datetime({epochMillis: $from_ms})
    AND c.received_at < datetime({epochMillis: $to_ms})
  RETURN c
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL AND $provider IS NULL
  MATCH (c:LLMCall)
  WHERE c.received_at >= datetime({epochMillis: $from_ms})
    AND c.received_at < datetime({epochMillis: $to_ms})
  RETURN c
}
WITH c
WHERE ($step IS NULL OR c.step = $step)
  AND ($provider IS NULL OR c.provider = $provider)
  AND ($model IS NULL OR c.model = $model)
WITH (c.received_at.epochMillis - $from_ms) / $bucket_ms AS bucket, c
ORDER BY c.id
RETURN bucket,
       count(c) AS calls,
       count(c.error) AS errors,
       percentileDisc(c.latency_ms, 0.5) AS p50,
       percentileDisc(c.latency_ms, 0.95) AS p95,
       percentileDisc(c.latency_ms, 0.99) AS p99,
       sum(coalesce(c.input_tokens, 0)) AS input_tokens,
       sum(coalesce(c.output_tokens, 0)) AS output_tokens,
       sum(coalesce(c.cost_usd, 0.0)) AS cost_usd,
       sum(CASE WHEN c.cost_estimated THEN coalesce(c.cost_usd, 0.0) ELSE 0.0 END) AS estimated_cost_usd
