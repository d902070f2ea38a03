// Commands newest first (by seq), optionally of one pipeline, run or state.
MATCH (c:Command)
WHERE ($pipeline IS NULL OR c.pipeline = $pipeline)
  AND ($run IS NULL OR c.run = $run)
  AND ($states IS NULL OR c.state IN $states)
  AND ($before IS NULL OR c.seq < $before)
RETURN c {.*} AS command
ORDER BY c.seq DESC
LIMIT $limit
