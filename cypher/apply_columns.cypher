// Columns of artifact versions (issue 22, docs/columns.md): schemas as Field nodes,
// column-level lineage as DERIVED_FROM edges between fields, and the schema changes
// between consecutive versions of an artifact. Run after apply_batch, in the same
// transaction, only for batches with an artifact event that carries a schema or a column
// lineage (graph_rows.column_rows builds $columns), so other batches cost nothing more.
// Idempotent and order-independent like apply_batch: fields MERGE on their key
// (version id + '#' + name), and every change touching a version of the batch is
// computed again from the stored versions, so late and shuffled versions converge.
// Returns the schema alerts this transaction created (at most one per version, ever:
// the SchemaAlert marker is MERGEd on its key and carries $token, this attempt's), so
// exactly one replica's transaction sends each alert.

// -- schemas: each version's fields --------------------------------------------------
CALL () {
  UNWIND $columns.schemas AS row
  MATCH (av:ArtifactVersion {id: row.version_id})
  // apply_batch kept the winning event's schema (latest write, else latest read): a row
  // from a losing event of this batch has another schema and changes nothing.
  WITH av, row WHERE av.schema = row.schema
  SET av.field_names = row.names, av.field_types = row.types
  WITH av, row
  CALL (av, row) {
    // A field the winning schema does not list (a losing event's, applied earlier): gone,
    // unless column lineage points at it — then kept, unmarked and untyped, as if only
    // the lineage had named it. Either arrival order ends the same.
    MATCH (old:Field)-[:FIELD_OF]->(av)
    WHERE NOT old.name IN row.names
    SET old.in_schema = false, old.type = null, old.position = null
    WITH old WHERE NOT EXISTS { (old)-[:DERIVED_FROM]-() }
    DETACH DELETE old
  }
  CALL (av, row) {
    UNWIND range(0, size(row.names) - 1) AS i
    MERGE (f:Field {id: row.version_id + '#' + row.names[i]})
      ON CREATE SET f.name = row.names[i], f.version_id = row.version_id, f.uri = row.uri
    SET f.type = CASE WHEN row.types[i] = '' THEN null ELSE row.types[i] END,
        f.position = i, f.in_schema = true
    MERGE (f)-[:FIELD_OF]->(av)
  }
}
// -- lineage: each written field and the input fields it derives from ----------------
CALL () {
  UNWIND $columns.lineage AS row
  MATCH (av:ArtifactVersion {id: row.version_id})
  MERGE (f:Field {id: row.version_id + '#' + row.field})
    ON CREATE SET f.name = row.field, f.version_id = row.version_id, f.uri = row.uri,
                  f.in_schema = false
  SET f.description = coalesce(row.description, f.description),
      f.transformation_type = coalesce(row.type, f.transformation_type)
  MERGE (f)-[:FIELD_OF]->(av)
  WITH f, row
  UNWIND row.inputs AS input
  CALL (row, input) {
    // The input's version: given, else the one this step run (else run) read, else the
    // artifact's latest, else an unversioned one (as for an artifact event without one).
    OPTIONAL MATCH (a:Artifact {uri: input.uri})
    RETURN coalesce(
      input.version_id,
      head(COLLECT {
        MATCH (:StepRun {id: row.step_run})-[:READ]->(v:ArtifactVersion)-[:VERSION_OF]->(a)
        RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
      head(COLLECT {
        MATCH (:Run {id: row.run})-[:READ]->(v:ArtifactVersion)-[:VERSION_OF]->(a)
        RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
      head(COLLECT {
        MATCH (v:ArtifactVersion)-[:VERSION_OF]->(a)
        RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
      input.uri + '@unversioned') AS input_id
  }
  MERGE (ia:Artifact {uri: input.uri})
  MERGE (iv:ArtifactVersion {id: input_id})
    ON CREATE SET iv.uri = input.uri, iv.version = input.version,
                  iv.first_seen = datetime(row.time)
  MERGE (iv)-[:VERSION_OF]->(ia)
  MERGE (src:Field {id: input_id + '#' + input.field})
    ON CREATE SET src.name = input.field, src.version_id = input_id, src.uri = input.uri,
                  src.in_schema = false
  MERGE (src)-[:FIELD_OF]->(iv)
  MERGE (f)-[d:DERIVED_FROM]->(src)
  // Every writer (run and step run) that claimed this edge, sorted: several runs may
  // write one version (a daily partition), and the edge is theirs together. A claim
  // named without a version is `floating` too: cypher/reresolve_field_inputs moves it
  // when a read (or version) of its artifact arrives later, so any arrival order ends
  // the same.
  WITH f, row, input, ia, d, row.run + '\u001f' + coalesce(row.step_run, '') AS writer
  SET d.type = coalesce(input.type, d.type),
      d.subtype = coalesce(input.subtype, d.subtype),
      d.description = coalesce(input.description, d.description),
      d.writers = COLLECT {
        UNWIND coalesce(d.writers, []) + [writer] AS w RETURN DISTINCT w ORDER BY w },
      d.floating = CASE WHEN input.version_id IS NULL
        THEN COLLECT {
          UNWIND coalesce(d.floating, []) + [writer] AS w RETURN DISTINCT w ORDER BY w }
        ELSE coalesce(d.floating, []) END
  // The edge's run and step run: its greatest writer's (all of them are in `writers`).
  WITH d, ia, input, split(last(d.writers), '\u001f') AS last_writer
  SET d.run = last_writer[0],
      d.step_run = CASE WHEN last_writer[1] = '' THEN null ELSE last_writer[1] END
  FOREACH (_ IN CASE WHEN input.version_id IS NULL THEN [1] ELSE [] END |
    SET ia.floating_field_inputs = true)
}
// -- schema changes: consecutive versions (by first seen) of each touched artifact ----
UNWIND $columns.artifacts AS uri
MATCH (a:Artifact {uri: uri})
WITH a, COLLECT {
  MATCH (v:ArtifactVersion)-[:VERSION_OF]->(a) WHERE v.field_names IS NOT NULL
  RETURN v ORDER BY v.first_seen, v.id } AS versions
UNWIND range(1, size(versions) - 1) AS i
WITH a, versions[i - 1] AS prev, versions[i] AS cur
WHERE cur.id IN $columns.versions OR prev.id IN $columns.versions
WITH a, prev, cur,
  [n IN cur.field_names WHERE NOT n IN prev.field_names] AS added,
  [n IN prev.field_names WHERE NOT n IN cur.field_names] AS removed,
  [k IN range(0, size(cur.field_names) - 1) WHERE cur.field_names[k] IN prev.field_names |
    {name: cur.field_names[k], to: cur.field_types[k],
     from: head([j IN range(0, size(prev.field_names) - 1)
                 WHERE prev.field_names[j] = cur.field_names[k] | prev.field_types[j]])}] AS common
WITH a, prev, cur, added, removed, [c IN common WHERE c.from <> c.to] AS retyped
CALL (cur, added, removed, retyped) {
  // No longer a change (a version landed in between): forget it.
  WITH cur WHERE size(added) + size(removed) + size(retyped) = 0
  MATCH (old:SchemaChange {id: cur.id})
  DETACH DELETE old
}
WITH a, prev, cur, added, removed, retyped
WHERE size(added) + size(removed) + size(retyped) > 0
MERGE (sc:SchemaChange {id: cur.id})
SET sc.uri = a.uri, sc.version_id = cur.id, sc.version = cur.version,
    sc.previous_version_id = prev.id, sc.previous_version = prev.version,
    sc.at = cur.first_seen, sc.added = added, sc.removed = removed,
    sc.retyped = [r IN retyped | r.name],
    sc.retyped_from = [r IN retyped | r.from], sc.retyped_to = [r IN retyped | r.to],
    sc.breaking = size(removed) + size(retyped) > 0
MERGE (sc)-[:OF]->(cur)
WITH a, cur, sc, removed + [r IN retyped | r.name] AS broken
WHERE size(broken) > 0
// What reads a broken field downstream: fields derived from it (in any other version
// of the artifact), transitively — a report two steps away breaks too — bounded (a
// literal: variable-length bounds cannot be parameters) as lineage depth is by default;
// the versions holding them, the step runs (or runs) that wrote those.
CALL (a, cur, broken) {
  OPTIONAL MATCH (a)<-[:VERSION_OF]-(v:ArtifactVersion)<-[:FIELD_OF]-(f:Field)
                 <-[:DERIVED_FROM*1..10]-(d:Field)-[:FIELD_OF]->(dv:ArtifactVersion)
  WHERE f.name IN broken AND v <> cur
  OPTIONAL MATCH (dv)<-[:WROTE]-(w)
  OPTIONAL MATCH (dv)-[:VERSION_OF]->(da:Artifact)
  OPTIONAL MATCH (p:Pipeline {name: w.pipeline})
  OPTIONAL MATCH (s:Step)<-[:OF]-(w:StepRun)
  WITH collect(DISTINCT d.id) AS fields, collect(DISTINCT p) AS pipes,
       collect(DISTINCT s) AS steps, collect(DISTINCT da) AS arts,
       collect(DISTINCT CASE WHEN w:StepRun THEN w.pipeline + '/' + w.step END) AS step_ids,
       collect(DISTINCT coalesce(p.name, w.pipeline)) AS pipelines
  RETURN fields, pipelines, step_ids,
    COLLECT { UNWIND pipes + steps + arts AS x MATCH (x)-[:OWNED_BY]->(o:Owner)
              RETURN DISTINCT o.id } AS owners
}
WITH a, cur, sc, fields, pipelines, step_ids, owners
WHERE size(fields) > 0
MERGE (m:SchemaAlert {id: 'schema:' + cur.id})
  ON CREATE SET m.token = $token, m.detected_at = datetime(), m.at = cur.first_seen,
                m.uri = a.uri, m.version_id = cur.id, m.version = cur.version,
                m.previous_version_id = sc.previous_version_id,
                m.removed = sc.removed, m.retyped = sc.retyped,
                m.fields = fields, m.pipelines = pipelines, m.steps = step_ids,
                m.owners = owners
WITH m WHERE m.token = $token
RETURN m {.*, token: null} AS alert
