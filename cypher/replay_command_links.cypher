// Replay: link the kept commands again to their pipeline (FOR) and to the step run or run
// they act on (TARGETS), as command_create does; those nodes were rebuilt from the log,
// and the edges went with the old ones. A command whose target the log does not hold
// (none: a command is refused for an unknown run) stays unlinked, as it was created.
MATCH (c:Command)
WHERE NOT EXISTS { (c)-[:FOR|TARGETS]->() }
CALL (c) {
  OPTIONAL MATCH (p:Pipeline {name: c.pipeline})
  OPTIONAL MATCH (r:Run {id: c.run})
  OPTIONAL MATCH (sr:StepRun {id: c.step_run})
  FOREACH (_ IN CASE WHEN p IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:FOR]->(p))
  FOREACH (_ IN CASE WHEN sr IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:TARGETS]->(sr))
  FOREACH (_ IN CASE WHEN sr IS NULL AND r IS NOT NULL THEN [1] ELSE [] END |
    CREATE (c)-[:TARGETS]->(r))
} IN TRANSACTIONS OF 5000 ROWS
