// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
// Every step run (each attempt) of each run.
UNWIND $ids AS id
MATCH (r:Run {id: id})
RETURN id, [(r)-[:HAS]->(sr:StepRun) | sr {.*, scheduled_for: toString(sr.scheduled_for), started_at: toString(sr.started_at), ended_at: toString(sr.ended_at), terminal_time: null, progress_time: null}] AS step_runs
