// Benchmark graph, part 1: pipelines with a 10-step chain DAG, owners, SLAs, artifacts,
// models and prompt versions.
UNWIND range(0, $pipelines - 1) AS p
CREATE (pl:Pipeline {name: 'bench-' + p, version: '1'})
MERGE (o:Owner {id: 'team:t' + (p % 20)}) ON CREATE SET o.kind = 'team', o.name = 't' + (p % 20)
CREATE (pl)-[:OWNED_BY]->(o)
CREATE (pl)-[:GOVERNED_BY]->(:SLA {id: 'sla-' + p, max_duration_ms: 3600000})
WITH p, pl
UNWIND range(0, $steps - 1) AS k
CREATE (s:Step {id: 'bench-' + p + '/s' + k, key: 's' + k, pipeline: 'bench-' + p, name: 'step ' + k})
CREATE (pl)-[:HAS_STEP]->(s)
CREATE (:Artifact {uri: 'bench://p' + p + '/s' + k, kind: 'dataset'})
WITH p, k, s
CALL (p, k, s) {
  WITH p, k, s WHERE k > 0
  MATCH (prev:Step {id: 'bench-' + p + '/s' + (k - 1)})
  CREATE (s)-[:DEPENDS_ON]->(prev)
}
WITH DISTINCT k
WHERE k < 5
MERGE (:Model {id: 'prov/model-' + k, provider: 'prov', name: 'model-' + k})
MERGE (:PromptVersion {id: 'tmpl-' + k + '@v1', template: 'tmpl-' + k, version: 'v1'})
