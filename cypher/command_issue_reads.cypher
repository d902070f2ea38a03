// What an issuing transaction reads, in one statement (one round trip, before its write:
// command_issue): the commands already issued under these idempotency scopes
// (`["<principal>", "<key>"]`, a JSON pair: command_store.idempotency_scope), and what the
// commands would act on: runs with their status, step runs with theirs, the latest
// attempt of their step and whether a retry of them is already under way (an open or
// acknowledged retry command), pipelines, and for runs to retry their step runs (to find
// the first failed step). A missing target comes back found: false.
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
CALL () {
  UNWIND $batch.scopes AS scope
  MATCH (c:Command {scope: scope})
  RETURN collect(c {.*}) AS existing
}
CALL () {
  UNWIND $batch.runs AS id
  OPTIONAL MATCH (r:Run {id: id})
  RETURN collect({id: id, found: r IS NOT NULL, status: r.status, pipeline: r.pipeline}) AS runs
}
CALL () {
  UNWIND $batch.step_runs AS id
  OPTIONAL MATCH (sr:StepRun {id: id})
  OPTIONAL MATCH (r:Run {id: sr.run})
  RETURN collect({id: id, found: sr IS NOT NULL, status: sr.status, run: sr.run,
                  step: sr.step, attempt: sr.attempt, pipeline: sr.pipeline,
                  run_status: r.status,
                  attempts: CASE WHEN r IS NULL THEN [] ELSE
                    [(r)-[:HAS]->(o:StepRun {step: sr.step}) | coalesce(o.attempt, 1)] END,
                  retrying: CASE WHEN sr IS NULL THEN [] ELSE
                    [(c:Command)-[:TARGETS]->(sr) WHERE c.kind = 'retry'
                       AND c.state IN ['pending', 'delivered', 'acknowledged'] | c.id] END
                 }) AS step_runs
}
CALL () {
  UNWIND $batch.retry_runs AS id
  MATCH (r:Run {id: id})-[:HAS]->(sr:StepRun)
  RETURN collect({run: id, id: sr.id, step: sr.step, attempt: sr.attempt, status: sr.status,
                  started_at: toString(sr.started_at),
                  retrying: [(c:Command)-[:TARGETS]->(sr) WHERE c.kind = 'retry'
                     AND c.state IN ['pending', 'delivered', 'acknowledged'] | c.id]
                 }) AS retry_steps
}
CALL () {
  UNWIND $batch.pipelines AS name
  OPTIONAL MATCH (p:Pipeline {name: name})
  RETURN collect({name: name, found: p IS NOT NULL}) AS pipelines
}
RETURN existing, runs, step_runs, retry_steps, pipelines
