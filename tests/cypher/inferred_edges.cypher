// Every stored inferred-lineage edge with its run and explaining path.
MATCH (x:ArtifactVersion)-[e:INFERRED_FLOW]->(y:ArtifactVersion)
RETURN x.id AS src, y.id AS dst, e.run AS run, e.path AS path
