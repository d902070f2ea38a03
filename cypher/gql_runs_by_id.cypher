// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
UNWIND $ids AS id
MATCH (r:Run {id: id})
RETURN id, r {.*, scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at), ended_at: toString(r.ended_at), terminal_time: null} AS r
