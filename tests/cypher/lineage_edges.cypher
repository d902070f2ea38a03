MATCH (a:ArtifactVersion)<-[:READ]-(sr:StepRun)-[:WROTE]->(b:ArtifactVersion)
RETURN a.id AS src, b.id AS dst, sr.id AS via
