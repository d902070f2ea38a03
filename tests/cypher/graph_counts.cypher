// How many nodes and relationships the graph derived from events holds (a read must not
// change them). Breaches, keys and audit entries are written by timers and fixtures.
CALL () {
  MATCH (n) WHERE n:Run OR n:StepRun OR n:LLMCall OR n:Event OR n:ArtifactVersion
              OR n:Artifact OR n:Step OR n:Pipeline
  RETURN count(n) AS nodes
}
CALL () {
  MATCH (a)-[r:HAS|MADE|READ|WROTE|ABOUT|OF|VERSION_OF]->(b)
  WHERE NOT a:SLABreach AND NOT b:SLABreach AND NOT a:AuditEntry
  RETURN count(r) AS rels
}
RETURN nodes, rels
