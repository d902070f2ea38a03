// The schema changes of an artifact's versions (added, removed, retyped fields against
// the previous version with a schema), newest first; from the Artifact (uri, unique).
// Answered as ONE record; artifact null when $uri is unknown.
OPTIONAL MATCH (a:Artifact {uri: $uri})
RETURN a {.uri, .kind} AS artifact,
       COLLECT {
         MATCH (a)<-[:VERSION_OF]-(:ArtifactVersion)<-[:OF]-(sc:SchemaChange)
         OPTIONAL MATCH (m:SchemaAlert {id: 'schema:' + sc.version_id})
         RETURN sc {.*, alerted: m IS NOT NULL} ORDER BY sc.at DESC, sc.id DESC
       } AS changes
