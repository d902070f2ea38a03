// LLM calls answered in [$from_ms, $to_ms) grouped by $by (PIPELINE, STEP, MODEL,
// PROVIDER): cost (and its estimated part), tokens, latency, errors. Optional filters
// $pipeline and $provider.
CALL () {
  WITH 1 AS one WHERE $pipeline IS NOT NULL
  MATCH (c:LLMCall)
  WHERE c.pipeline = $pipeline
    AND c.received_at >= datetime({epochMillis: $from_ms})
    AND c.received_at < datetime({epochMillis: $to_ms})
  RETURN c
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL
  MATCH (c:LLMCall)
  WHERE c.received_at >= datetime({epochMillis: $from_ms})
    AND c.received_at < datetime({epochMillis: $to_ms})
  RETURN c
}
WITH c
WHERE $provider IS NULL OR c.provider = $provider
WITH c, CASE $by
          WHEN 'PIPELINE' THEN c.pipeline
          WHEN 'STEP' THEN c.pipeline + '/' + coalesce(c.step, '-')
          WHEN 'PROVIDER' THEN c.provider
          ELSE c.provider + '/' + c.model
        END AS key
ORDER BY c.id
RETURN key,
       count(c) AS calls,
       count(c.error) AS errors,
       percentileDisc(c.latency_ms, 0.5) AS p50,
       percentileDisc(c.latency_ms, 0.95) AS p95,
       percentileDisc(c.latency_ms, 0.99) AS p99,
       sum(coalesce(c.input_tokens, 0)) AS input_tokens,
       sum(coalesce(c.output_tokens, 0)) AS output_tokens,
       sum(coalesce(c.cost_usd, 0.0)) AS cost_usd,
       sum(CASE WHEN c.cost_estimated THEN coalesce(c.cost_usd, 0.0) ELSE 0.0 END) AS estimated_cost_usd
ORDER BY cost_usd DESC, key
