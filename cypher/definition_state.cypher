// What the definitions panel reads and checks against (validateDefinition on each typing
// pause): the stored definition (the winning pipeline.defined data, as JSON text), the
// owners and SLAs in the graph now (pipeline and steps: admins may have changed them
// since, with pipeline.owner_set / pipeline.sla_set), and the versions the log holds
// (kept on the node by apply_pipeline_defined). Bounded by the pipeline's steps, never
// by its events. A graph from before p.versions was kept knows only the current version
// until a replay rebuilds it.
OPTIONAL MATCH (p:Pipeline {name: $pipeline})
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
RETURN p IS NOT NULL AS known, p.definition AS definition, p.defined_seq AS seq,
       p.defined_at AS defined_at, owner, sla, steps,
       coalesce(p.versions, CASE WHEN p.version IS NULL THEN [] ELSE [toString(p.version)] END)
         AS versions
