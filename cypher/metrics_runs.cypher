// Runs started in [$from_ms, $to_ms) per bucket of $bucket_ms: outcomes and durations.
// Two branches so each uses its own index: (pipeline, started_at) or started_at alone.
CALL () {
  WITH 1 AS one WHERE $pipeline IS NOT NULL
  MATCH (r:Run)
  WHERE r.pipeline = $pipeline
    AND r.started_at >= datetime({epochMillis: $from_ms})
    AND r.started_at < datetime({epochMillis: $to_ms})
  RETURN r
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL
  MATCH (r:Run)
  WHERE r.started_at >= datetime({epochMillis: $from_ms})
    AND r.started_at < datetime({epochMillis: $to_ms})
  RETURN r
}
WITH (r.started_at.epochMillis - $from_ms) / $bucket_ms AS bucket, r.status AS status,
     r.duration_ms AS duration
RETURN bucket,
       count(*) AS runs,
       count(CASE WHEN status = 'succeeded' THEN 1 END) AS succeeded,
       count(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       count(CASE WHEN status = 'cancelled' THEN 1 END) AS cancelled,
       percentileDisc(duration, 0.5) AS p50,
       percentileDisc(duration, 0.95) AS p95,
       percentileDisc(duration, 0.99) AS p99
