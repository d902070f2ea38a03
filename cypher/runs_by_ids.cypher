// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
// The current state of the given runs, one row each (live runUpdated pushes).
// Unknown ids give no row.
UNWIND $ids AS run_id
MATCH (r:Run {id: run_id})
RETURN r {.*, scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at), ended_at: toString(r.ended_at), terminal_time: null, pause_time: null} AS run
