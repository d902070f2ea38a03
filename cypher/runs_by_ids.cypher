// The current state of the given runs, one row each (live runUpdated pushes).
// Unknown ids give no row.
UNWIND $ids AS run_id
MATCH (r:Run {id: run_id})
RETURN properties(r) AS run
