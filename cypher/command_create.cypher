// New commands (seqs allocated under the counter lock), each linked to the run or step
// run it acts on (TARGETS) and to its pipeline (FOR).
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.rows AS row
CREATE (c:Command)
SET c = row.props,
    c.created_at = datetime(row.created_at),
    c.expires_at = datetime(row.expires_at)
WITH c, row
OPTIONAL MATCH (p:Pipeline {name: row.props.pipeline})
OPTIONAL MATCH (r:Run {id: row.props.run})
OPTIONAL MATCH (sr:StepRun {id: row.props.step_run})
FOREACH (_ IN CASE WHEN p IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:FOR]->(p))
FOREACH (_ IN CASE WHEN sr IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:TARGETS]->(sr))
FOREACH (_ IN CASE WHEN sr IS NULL AND r IS NOT NULL THEN [1] ELSE [] END |
  CREATE (c)-[:TARGETS]->(r))

