// Every step run (each attempt) of each run.
UNWIND $ids AS id
MATCH (r:Run {id: id})
RETURN id, [(r)-[:HAS]->(sr:StepRun) | properties(sr)] AS step_runs
