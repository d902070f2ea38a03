// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
// One pipeline's runs newest first after the cursor $after_key, optionally with one status
// (the (pipeline, order_key) index gives them in order).
MATCH (r:Run)
WHERE r.pipeline = $pipeline AND r.order_key < $after_key
  AND ($status IS NULL OR r.status = $status)
// Ordered by both properties of the (pipeline, order_key) index first: the seek reads in
// index order and stops at $limit (by order_key alone it read the pipeline's every run).
WITH r ORDER BY r.pipeline DESC, r.order_key DESC
LIMIT $limit
RETURN r {.*, scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at), ended_at: toString(r.ended_at), terminal_time: null} AS r, r.order_key AS k
ORDER BY k DESC
