// Run retention: every node of the given runs — the run, its step runs, their LLM calls,
// approvals and SLA breaches — with its properties, and whether lineage needs it (it
// READ or WROTE an artifact version: kept, so lineage and blast radius still answer).
UNWIND $batch.ids AS run_id
MATCH (r:Run {id: run_id})
CALL (r) {
  RETURN r AS n
  UNION
  MATCH (r)-[:HAS]->(n:StepRun) RETURN n
  UNION
  MATCH (r)-[:HAS]->(:StepRun)-[:MADE]->(n:LLMCall) RETURN n
  UNION
  MATCH (r)-[:MADE]->(n:LLMCall) RETURN n
  UNION
  MATCH (r)-[:HAS]->(:StepRun)-[:ASKED]->(n:Approval) RETURN n
  UNION
  MATCH (n:SLABreach)-[:ON]->(r) RETURN n
  UNION
  MATCH (r)-[:HAS]->(:StepRun)<-[:ON]-(n:SLABreach) RETURN n
}
RETURN r.id AS run, elementId(n) AS element_id, labels(n) AS labels,
       coalesce(n.id, n.name, n.uri) AS key, properties(n) AS props,
       EXISTS { (n)-[:READ|WROTE]->(:ArtifactVersion) } AS lineage
