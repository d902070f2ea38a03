// The stored state of the pipelines a batch defines, before the batch applies: the
// winning definition (its time, seq and data) and the owners and SLAs in the graph,
// for the audit trail's before/after of pipeline.defined.
UNWIND $names AS name
MATCH (p:Pipeline {name: name})
CALL (p) {
  OPTIONAL MATCH (p)-[:OWNED_BY]->(o:Owner)
  RETURN collect(o.id)[0] AS owner
}
CALL (p) {
  OPTIONAL MATCH (p)-[:GOVERNED_BY]->(s:SLA)
  RETURN collect(properties(s))[0] AS sla
}
CALL (p) {
  OPTIONAL MATCH (p)-[:HAS_STEP]->(st:Step)
  OPTIONAL MATCH (st)-[:OWNED_BY]->(so:Owner)
  OPTIONAL MATCH (st)-[:GOVERNED_BY]->(ss:SLA)
  WITH st, collect(so.id)[0] AS owner, collect(properties(ss))[0] AS sla
  WHERE st IS NOT NULL
  RETURN collect({key: st.key, owner: owner, sla: sla}) AS steps
}
RETURN p.name AS name, p.defined_at AS defined_at, p.defined_seq AS defined_seq,
       p.definition AS definition, owner, sla, steps
