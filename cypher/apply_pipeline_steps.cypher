// Rebuild the step DAG of the pipelines whose definition won. Steps dropped from the
// definition lose their definition links; a dropped step nobody ran disappears.
UNWIND $rows AS row
MATCH (p:Pipeline {name: row.pipeline})
CALL (p, row) {
  OPTIONAL MATCH (p)-[hs:HAS_STEP]->(old:Step)
  WHERE NOT old.key IN [s IN row.steps | s.key]
  OPTIONAL MATCH (old)-[:GOVERNED_BY]->(old_sla:SLA)
  DETACH DELETE old_sla
  REMOVE old.name, old.kind, old.description
  DELETE hs
  WITH old
  WHERE old IS NOT NULL AND NOT (old)<-[:OF]-(:StepRun)
  DETACH DELETE old
}
CALL (p) {
  OPTIONAL MATCH (p)-[:HAS_STEP]->(:Step)-[rel:DEPENDS_ON|OWNED_BY|GOVERNED_BY]->()
  DELETE rel
}
WITH p, row
UNWIND row.steps AS st
MERGE (s:Step {id: st.id})
SET s.key = st.key, s.pipeline = row.pipeline, s.name = st.name, s.kind = st.kind,
    s.description = st.description
MERGE (p)-[:HAS_STEP]->(s)
FOREACH (owner IN CASE WHEN st.owner IS NULL THEN [] ELSE [st.owner] END |
  MERGE (o:Owner {id: owner.id}) ON CREATE SET o.kind = owner.kind, o.name = owner.name
  MERGE (s)-[:OWNED_BY]->(o))
FOREACH (sla IN CASE WHEN st.sla IS NULL THEN [] ELSE [st.sla] END |
  MERGE (x:SLA {id: sla.id})
  SET x = sla
  MERGE (s)-[:GOVERNED_BY]->(x))
