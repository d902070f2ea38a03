// Data lineage: which step run (or run, when the event names no step) read or wrote
// which artifact version.
UNWIND $rows AS row
MATCH (av:ArtifactVersion {id: row.version_id})
CALL (av, row) {
  WITH av, row WHERE row.step_run IS NOT NULL
  MATCH (sr:StepRun {id: row.step_run})
  FOREACH (_ IN CASE WHEN row.written THEN [1] ELSE [] END | MERGE (sr)-[:WROTE]->(av))
  FOREACH (_ IN CASE WHEN row.written THEN [] ELSE [1] END | MERGE (sr)-[:READ]->(av))
}
CALL (av, row) {
  WITH av, row WHERE row.step_run IS NULL
  MATCH (r:Run {id: row.run})
  FOREACH (_ IN CASE WHEN row.written THEN [1] ELSE [] END | MERGE (r)-[:WROTE]->(av))
  FOREACH (_ IN CASE WHEN row.written THEN [] ELSE [1] END | MERGE (r)-[:READ]->(av))
}
