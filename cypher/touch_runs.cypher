// Activity inside a run that names no step (an LLM call or artifact at run level):
// the run exists, belongs to its pipeline, and is at least running.
UNWIND $rows AS row
MERGE (p:Pipeline {name: row.pipeline})
MERGE (r:Run {id: row.run})
MERGE (r)-[:OF]->(p)
SET r.pipeline = row.pipeline
SET r.status = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 'running' ELSE r.status END,
    r.status_rank = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 1 ELSE r.status_rank END,
    // newest-first paging key: start (else schedule) time, then id; indexed
    r.order_key = right('0000000000000' + toString(coalesce(r.started_at.epochMillis, r.scheduled_for.epochMillis, 0)), 13) + '|' + r.id
