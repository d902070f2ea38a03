// The explaining paths of the step DAG of the definitions that won (inferred lineage,
// docs/lineage.md): one (down:Step)-[:DEPENDS_TRANSITIVELY {path}]->(up:Step) per pair
// where `down` depends on `up` directly or transitively; `path` is the step keys from
// `up` to `down` (events/step_paths.py chooses it from the definition alone). Rewritten
// only when the paths changed (p.step_paths_signature); returns the pipelines whose
// paths changed, whose runs' inferred lineage is then recomputed.
UNWIND $rows AS row
MATCH (p:Pipeline {name: row.pipeline})
WITH p, row
WHERE coalesce(p.step_paths_signature, '') <> row.signature
SET p.step_paths_signature = row.signature
WITH p, row
CALL (p) {
  // Also the steps the definition dropped (they keep their node when they ran, without
  // HAS_STEP): found by their id, which starts with the pipeline's name (an index seek).
  MATCH (s:Step)-[old:DEPENDS_TRANSITIVELY]->()
  WHERE s.id STARTS WITH p.name + '/' AND s.pipeline = p.name
  DELETE old
}
CALL (row) {
  UNWIND row.paths AS pair
  MATCH (down:Step {id: pair.from}), (up:Step {id: pair.to})
  MERGE (down)-[d:DEPENDS_TRANSITIVELY]->(up)
  SET d.path = pair.path
}
RETURN p.name AS pipeline
