// Step runs started in [$from_ms, $to_ms) per bucket: outcomes and durations. Optional
// filters $pipeline, $step, $provider, $model; the pipeline branch seeks the
// (pipeline, started_at) index, the other the started_at index.
CALL () {
  WITH 1 AS one WHERE $pipeline IS NOT NULL
  MATCH (sr:StepRun)
  WHERE sr.pipeline = $pipeline
    AND sr.started_at >= datetime({epochMillis: $from_ms})
    AND sr.started_at < datetime({epochMillis: $to_ms})
  RETURN sr
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL
  MATCH (sr:StepRun)
  WHERE sr.started_at >= datetime({epochMillis: $from_ms})
    AND sr.started_at < datetime({epochMillis: $to_ms})
  RETURN sr
}
WITH sr
WHERE ($step IS NULL OR sr.step = $step)
  AND ($provider IS NULL OR sr.provider = $provider)
  AND ($model IS NULL OR sr.model = $model)
WITH (sr.started_at.epochMillis - $from_ms) / $bucket_ms AS bucket, sr.status AS status,
     sr.duration_ms AS duration
RETURN bucket,
       count(*) AS step_runs,
       count(CASE WHEN status = 'succeeded' THEN 1 END) AS succeeded,
       count(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       count(CASE WHEN status IN ['succeeded', 'failed', 'cancelled', 'skipped'] THEN 1 END) AS finished,
       percentileDisc(duration, 0.5) AS p50,
       percentileDisc(duration, 0.95) AS p95,
       percentileDisc(duration, 0.99) AS p99
