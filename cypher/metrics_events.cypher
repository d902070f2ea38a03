// Stored events whose source time is in [$from_ms, $to_ms), per bucket; optional
// $pipeline (seeks the (pipeline, time) index) and $step.
CALL () {
  WITH 1 AS one WHERE $pipeline IS NOT NULL
  MATCH (e:Event)
  WHERE e.pipeline = $pipeline
    AND e.time >= datetime({epochMillis: $from_ms})
    AND e.time < datetime({epochMillis: $to_ms})
  RETURN e
  UNION ALL
  WITH 1 AS one WHERE $pipeline IS NULL
  MATCH (e:Event)
  WHERE e.time >= datetime({epochMillis: $from_ms})
    AND e.time < datetime({epochMillis: $to_ms})
  RETURN e
}
WITH e
WHERE $step IS NULL OR e.step = $step
RETURN (e.time.epochMillis - $from_ms) / $bucket_ms AS bucket, count(*) AS events
