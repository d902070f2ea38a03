// Activity inside a run that names no step (an LLM call or artifact at run level):
// the run exists, belongs to its pipeline, and is at least running.
UNWIND $rows AS row
MERGE (p:Pipeline {name: row.pipeline})
MERGE (r:Run {id: row.run})
MERGE (r)-[:OF]->(p)
// Write the run only when something changes: most events find it running already, and
// an untouched run is neither locked longer nor re-indexed.
FOREACH (_ IN CASE WHEN r.pipeline IS NULL OR coalesce(r.status_rank, -1) < 1 THEN [1] ELSE [] END |
  SET r.pipeline = row.pipeline,
      r.status = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 'running' ELSE r.status END,
      r.status_rank = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 1 ELSE r.status_rank END)
