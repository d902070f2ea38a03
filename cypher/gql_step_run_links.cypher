// Temporal properties come back as RFC 3339 text: the driver's Python-side DateTime
// hydration cost more than the query itself on pages of runs.
// LLM calls, artifact versions read and written, of each step run.
UNWIND $ids AS id
MATCH (sr:StepRun {id: id})
RETURN id,
       [(sr)-[:MADE]->(c:LLMCall) | c {.*, sent_at: toString(c.sent_at), received_at: toString(c.received_at)}] AS llm_calls,
       [(sr)-[:READ]->(a:ArtifactVersion) | a { .id, .uri, .version, .hash, kind: [(a)-[:VERSION_OF]->(art:Artifact) | art.kind][0] }] AS reads,
       [(sr)-[:WROTE]->(a:ArtifactVersion) | a { .id, .uri, .version, .hash, kind: [(a)-[:VERSION_OF]->(art:Artifact) | art.kind][0] }] AS writes
