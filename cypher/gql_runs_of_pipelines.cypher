// The latest $first runs of each pipeline, newest first.
UNWIND $names AS name
CALL (name) {
  MATCH (r:Run {pipeline: name})
  WITH r ORDER BY coalesce(r.started_at.epochMillis, r.scheduled_for.epochMillis, 0) DESC, r.id DESC
  LIMIT $first
  RETURN collect(properties(r)) AS runs
}
RETURN name, runs
