// Runs newest first (by start, else schedule time, then id), a page after the cursor
// ($after_key, $after_id); optional pipeline and status filters.
MATCH (r:Run)
WHERE ($pipeline IS NULL OR r.pipeline = $pipeline)
  AND ($status IS NULL OR r.status = $status)
WITH r, coalesce(r.started_at.epochMillis, r.scheduled_for.epochMillis, 0) AS k
WHERE $after_key IS NULL OR k < $after_key OR (k = $after_key AND r.id < $after_id)
RETURN properties(r) AS r, k
ORDER BY k DESC, r.id DESC
LIMIT $limit
