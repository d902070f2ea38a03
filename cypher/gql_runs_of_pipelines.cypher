// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
// The latest $first runs of each pipeline, newest first.
UNWIND $names AS name
CALL (name) {
  MATCH (r:Run)
  WHERE r.pipeline = name AND r.order_key < '~'
  // Ordered by both properties of the (pipeline, order_key) index: the seek then reads
  // in index order and stops at $first (by order_key alone it read the pipeline's every
  // run and sorted them: a status page that grew with history).
  WITH r ORDER BY r.pipeline DESC, r.order_key DESC
  LIMIT $first
  RETURN collect(r {.*, scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at), ended_at: toString(r.ended_at), terminal_time: null}) AS runs
}
RETURN name, runs
