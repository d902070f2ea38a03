// The fields of one version of an artifact ($version, else its latest version that has
// fields), in schema order, each with the input fields it derives from (column lineage)
// and the transformation. Starts from the Artifact (uri, unique) or the version (id,
// unique). Answered as ONE record; artifact null when $uri is unknown, version null when
// it has no such version (or none with fields).
OPTIONAL MATCH (a:Artifact {uri: $uri})
WITH a, CASE
  WHEN $version IS NULL THEN head(COLLECT {
    MATCH (v:ArtifactVersion)-[:VERSION_OF]->(a) WHERE EXISTS { (v)<-[:FIELD_OF]-(:Field) }
    RETURN v ORDER BY v.first_seen DESC, v.id DESC })
  ELSE head(COLLECT { MATCH (v:ArtifactVersion {id: $uri + '@' + $version}) RETURN v })
  END AS av
RETURN a {.uri, .kind} AS artifact,
       av {.id, .uri, .version, .hash, .field_names} AS version,
       COLLECT {
         MATCH (f:Field)-[:FIELD_OF]->(av)
         RETURN f {.id, .name, .type, .position, .in_schema, .description,
                   .transformation_type,
                   inputs: COLLECT {
                     MATCH (f)-[d:DERIVED_FROM]->(s:Field)
                     RETURN s {.id, .name, .uri, .version_id, .type, edge_type: d.type,
                               subtype: d.subtype, description: d.description,
                               step_run: d.step_run}
                     ORDER BY s.id }}
         ORDER BY coalesce(f.position, 1000000), f.name } AS fields
