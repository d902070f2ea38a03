// Artifacts and their versions (one row per version; graph_rows folds the batch).
UNWIND $rows AS row
MERGE (a:Artifact {uri: row.uri})
SET a.kind = coalesce(row.kind, a.kind)
MERGE (av:ArtifactVersion {id: row.version_id})
  ON CREATE SET av.uri = row.uri, av.first_seen = row.time
SET av.version = coalesce(row.version, av.version),
    av.hash = coalesce(row.hash, av.hash),
    av.kind = coalesce(row.kind, av.kind),
    av.size_bytes = coalesce(row.size_bytes, av.size_bytes),
    av.records = coalesce(row.records, av.records),
    av.schema = coalesce(row.schema, av.schema),
    av.first_seen = CASE WHEN row.time < av.first_seen THEN row.time ELSE av.first_seen END
MERGE (av)-[:VERSION_OF]->(a)
FOREACH (owner IN CASE WHEN row.owner IS NULL THEN [] ELSE [row.owner] END |
  MERGE (o:Owner {id: owner.id}) ON CREATE SET o.kind = owner.kind, o.name = owner.name
  MERGE (a)-[:OWNED_BY]->(o))
