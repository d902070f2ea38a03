// The latest $first runs of each pipeline, newest first.
UNWIND $names AS name
CALL (name) {
  MATCH (r:Run)
  WHERE r.pipeline = name AND r.order_key < '~'
  WITH r ORDER BY r.order_key DESC
  LIMIT $first
  RETURN collect(properties(r)) AS runs
}
RETURN name, runs
