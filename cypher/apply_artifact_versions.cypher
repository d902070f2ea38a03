// Artifacts and their versions (one row per version; graph_rows folds the batch).
// What a version holds (hash, size, records, schema) is what its latest write
// says — or its latest read if it was never seen written — ranked by (written, time,
// seq), so any arrival order gives the same properties.
UNWIND $rows AS row
WITH row, datetime(row.time) AS time, datetime(row.first_seen) AS first_seen,
     datetime(row.kind_time) AS kind_time
MERGE (a:Artifact {uri: row.uri})
SET a.kind = CASE
      WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time
           OR (kind_time = a.kind_time AND row.kind_seq > a.kind_seq))
      THEN row.kind ELSE a.kind END,
    a.kind_seq = CASE
      WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time
           OR (kind_time = a.kind_time AND row.kind_seq > a.kind_seq))
      THEN row.kind_seq ELSE a.kind_seq END,
    a.kind_time = CASE
      WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time)
      THEN kind_time ELSE a.kind_time END
MERGE (av:ArtifactVersion {id: row.version_id})
  ON CREATE SET av.uri = row.uri, av.version = row.version, av.first_seen = first_seen
WITH a, av, row, time, first_seen,
     av.content_time IS NULL
       OR row.written_rank > av.content_written
       OR (row.written_rank = av.content_written AND time > av.content_time)
       OR (row.written_rank = av.content_written AND time = av.content_time
           AND row.seq > av.content_seq) AS newer
SET av.first_seen = CASE WHEN first_seen < av.first_seen THEN first_seen ELSE av.first_seen END,
    av.hash = CASE WHEN newer THEN row.hash ELSE av.hash END,
    av.size_bytes = CASE WHEN newer THEN row.size_bytes ELSE av.size_bytes END,
    av.records = CASE WHEN newer THEN row.records ELSE av.records END,
    av.schema = CASE WHEN newer THEN row.schema ELSE av.schema END,
    av.content_written = CASE WHEN newer THEN row.written_rank ELSE av.content_written END,
    av.content_time = CASE WHEN newer THEN time ELSE av.content_time END,
    av.content_seq = CASE WHEN newer THEN row.seq ELSE av.content_seq END
MERGE (av)-[:VERSION_OF]->(a)
FOREACH (owner IN row.owners |
  MERGE (o:Owner {id: owner.id}) ON CREATE SET o.kind = owner.kind, o.name = owner.name
  MERGE (a)-[:OWNED_BY]->(o))
