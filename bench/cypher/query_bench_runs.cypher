// Benchmark graph, part 2: the runs of iteration $i (one per pipeline). Step k of a run
// reads the version step k-1 wrote (step 0: what the last step of the previous run wrote)
// and, for one step run in $cross_every, the version step k of another pipeline wrote in
// the previous iteration (cross-pipeline lineage), and writes
// one new version. Even steps make an LLM call.
UNWIND range(0, $pipelines - 1) AS p
CREATE (r:Run {id: 'run-' + p + '-' + $i, pipeline: 'bench-' + p, status: 'succeeded',
               started_at: $t0 + duration({minutes: $i}), input_tokens: 10, output_tokens: 5,
               cost_usd: 0.001, cost_estimated: false})
SET r.order_key = right('0000000000000' + toString(r.started_at.epochMillis), 13) + '|' + r.id
WITH p, r
MATCH (pl:Pipeline {name: 'bench-' + p})
CREATE (r)-[:OF]->(pl)
WITH p, r
UNWIND range(0, $steps - 1) AS k
MATCH (st:Step {id: 'bench-' + p + '/s' + k})
MATCH (a:Artifact {uri: 'bench://p' + p + '/s' + k})
CREATE (sr:StepRun {id: r.id + '/s' + k + '#1', run: r.id, step: 's' + k, attempt: 1,
                    pipeline: 'bench-' + p, status: 'succeeded'})
CREATE (r)-[:HAS]->(sr)
CREATE (sr)-[:OF]->(st)
CREATE (av:ArtifactVersion {id: a.uri + '@' + $i, uri: a.uri, version: toString($i)})
CREATE (av)-[:VERSION_OF]->(a)
CREATE (sr)-[:WROTE]->(av)
WITH p, k, r, sr
CALL (p, k, sr) {
  WITH p, k, sr
  OPTIONAL MATCH (prev:ArtifactVersion {id: CASE WHEN k = 0
      THEN 'bench://p' + p + '/s' + ($steps - 1) + '@' + ($i - 1)
      ELSE 'bench://p' + p + '/s' + (k - 1) + '@' + $i END})
  OPTIONAL MATCH (cross:ArtifactVersion {id: 'bench://p' + ((p * 7 + k + 1) % $pipelines) + '/s' + k + '@' + ($i - 1)})
  WHERE (p + k + $i) % $cross_every = 0
  FOREACH (x IN [v IN [prev, cross] WHERE v IS NOT NULL] | CREATE (sr)-[:READ]->(x))
}
CALL (k, r, sr) {
  WITH k, r, sr WHERE k % 2 = 0
  MATCH (m:Model {id: 'prov/model-' + (k % 5)}), (pv:PromptVersion {id: 'tmpl-' + (k % 5) + '@v1'})
  CREATE (c:LLMCall {id: r.id + '/c' + k, run: r.id, step_run: sr.id, provider: 'prov',
                     model: 'model-' + (k % 5), input_tokens: 10, output_tokens: 5})
  CREATE (sr)-[:MADE]->(c)
  CREATE (c)-[:USED_MODEL]->(m)
  CREATE (c)-[:USED_PROMPT]->(pv)
}
