// LLM calls, artifact versions read and written, of each step run.
UNWIND $ids AS id
MATCH (sr:StepRun {id: id})
RETURN id,
       [(sr)-[:MADE]->(c:LLMCall) | properties(c)] AS llm_calls,
       [(sr)-[:READ]->(a:ArtifactVersion) | a { .id, .uri, .version, .hash, .kind }] AS reads,
       [(sr)-[:WROTE]->(a:ArtifactVersion) | a { .id, .uri, .version, .hash, .kind }] AS writes
