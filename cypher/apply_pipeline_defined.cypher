// A definition replaces the previous one unless an equal-or-newer one is already applied
// (ties on time go to the later seq), so late definitions converge to the same graph.
// Returns the rows that won; their steps are written by apply_pipeline_steps.
// Every row, winning or not, adds its batch's versions to p.versions (the versions the
// log holds for the pipeline, read by definition_state without walking the log).
UNWIND $rows AS row
MERGE (p:Pipeline {name: row.pipeline})
SET p.versions = coalesce(p.versions, []) +
                 [v IN row.versions WHERE NOT v IN coalesce(p.versions, [])]
WITH p, row
WHERE p.defined_at IS NULL
   OR datetime(row.defined_at) > p.defined_at
   OR (datetime(row.defined_at) = p.defined_at AND row.seq > p.defined_seq)
SET p.version = row.version, p.description = row.description, p.schedule = row.schedule,
    p.defined_at = datetime(row.defined_at), p.defined_seq = row.seq, p.definition = row.definition
WITH p, row
CALL (p) {
  OPTIONAL MATCH (p)-[o:OWNED_BY]->()
  DELETE o
}
CALL (p) {
  OPTIONAL MATCH (p)-[g:GOVERNED_BY]->(old:SLA)
  DELETE g
}
FOREACH (owner IN CASE WHEN row.owner IS NULL THEN [] ELSE [row.owner] END |
  MERGE (o:Owner {id: owner.id}) ON CREATE SET o.kind = owner.kind, o.name = owner.name
  MERGE (p)-[:OWNED_BY]->(o))
FOREACH (sla IN CASE WHEN row.sla IS NULL THEN [] ELSE [row.sla] END |
  MERGE (s:SLA {id: sla.id})
  SET s = sla
  MERGE (p)-[:GOVERNED_BY]->(s))
RETURN row.pipeline AS pipeline
