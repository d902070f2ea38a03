// The pipelines the given runs already belong to, for a scoped key's ingest request
// (ingest/run_owners.py): its run property and every OF edge, one row per known run.
// Unknown ids give no row (the run is new: the event's own pipeline will own it).
// Run.id is unique-constrained, so each id is one index seek.
UNWIND $ids AS run_id
MATCH (r:Run {id: run_id})
RETURN run_id AS run,
       [name IN [r.pipeline] + [(r)-[:OF]->(p:Pipeline) | p.name] WHERE name IS NOT NULL] AS pipelines
