// Column lineage inputs named without a version (apply_columns: the edge's `floating`
// writers) resolve to the version the writing step run read, else its run read, else
// the artifact's latest, else an unversioned placeholder. Which of those exist depends
// on what has arrived, so every batch touching an artifact ($uris) resolves those
// claims again and moves each whose answer changed to the right edge: the graph ends
// the same in every arrival order. Costs one indexed lookup per artifact that never had
// a floating input.
UNWIND $uris AS uri
MATCH (a:Artifact {uri: uri})
WHERE a.floating_field_inputs
MATCH (a)<-[:VERSION_OF]-(iv:ArtifactVersion)<-[:FIELD_OF]-(src:Field)<-[d:DERIVED_FROM]-(f:Field)
WHERE size(coalesce(d.floating, [])) > 0
UNWIND d.floating AS writer
WITH a, iv, src, d, f, writer, split(writer, '\u001f') AS claim
CALL (a, claim) {
  RETURN coalesce(
    head(COLLECT {
      MATCH (:StepRun {id: claim[1]})-[:READ]->(v:ArtifactVersion)-[:VERSION_OF]->(a)
      RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
    head(COLLECT {
      MATCH (:Run {id: claim[0]})-[:READ]->(v:ArtifactVersion)-[:VERSION_OF]->(a)
      RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
    head(COLLECT {
      MATCH (v:ArtifactVersion)-[:VERSION_OF]->(a)
      // not a placeholder made for a claim (no event read or wrote it)
      WHERE v.id <> a.uri + '@unversioned' OR EXISTS { (v)<-[:READ|WROTE]-() }
      RETURN v.id ORDER BY v.first_seen DESC, v.id DESC }),
    a.uri + '@unversioned') AS input_id
}
WITH a, iv, src, d, f, writer, input_id
WHERE input_id <> iv.id
MERGE (niv:ArtifactVersion {id: input_id})
  ON CREATE SET niv.uri = a.uri, niv.first_seen = iv.first_seen
MERGE (niv)-[:VERSION_OF]->(a)
MERGE (nsrc:Field {id: input_id + '#' + src.name})
  ON CREATE SET nsrc.name = src.name, nsrc.version_id = input_id, nsrc.uri = a.uri,
                nsrc.in_schema = false
MERGE (nsrc)-[:FIELD_OF]->(niv)
MERGE (f)-[nd:DERIVED_FROM]->(nsrc)
  ON CREATE SET nd.type = d.type, nd.subtype = d.subtype, nd.description = d.description
SET nd.writers = COLLECT {
      UNWIND coalesce(nd.writers, []) + [writer] AS w RETURN DISTINCT w ORDER BY w },
    nd.floating = COLLECT {
      UNWIND coalesce(nd.floating, []) + [writer] AS w RETURN DISTINCT w ORDER BY w }
SET d.writers = [w IN d.writers WHERE w <> writer],
    d.floating = [w IN d.floating WHERE w <> writer]
WITH collect(DISTINCT d) + collect(DISTINCT nd) AS edges,
     collect(DISTINCT src) AS sources, collect(DISTINCT iv) AS versions
// Each edge's run and step run: its greatest writer's (as apply_columns sets them); an
// edge no writer claims any more goes.
CALL (edges) {
  UNWIND edges AS e
  WITH e, split(last(e.writers), '\u001f') AS last_writer
  SET e.run = last_writer[0],
      e.step_run = CASE WHEN last_writer[1] = '' THEN null ELSE last_writer[1] END
  WITH e WHERE size(e.writers) = 0
  DELETE e
}
// What the moved claims leave behind: an input field nothing else names (and no schema
// lists), then a placeholder version nothing else uses — as if never made.
CALL (sources) {
  UNWIND sources AS src
  WITH src
  WHERE NOT coalesce(src.in_schema, false) AND NOT EXISTS { (src)-[:DERIVED_FROM]-() }
  DETACH DELETE src
}
CALL (versions) {
  UNWIND versions AS iv
  WITH iv
  WHERE iv.version IS NULL AND iv.id ENDS WITH '@unversioned'
    AND NOT EXISTS { (iv)--(x) WHERE NOT x:Artifact }
  DETACH DELETE iv
}
RETURN count(*) AS done
