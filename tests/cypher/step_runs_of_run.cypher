MATCH (:Run {id: $id})-[:HAS]->(sr:StepRun)
RETURN sr.id AS id, sr.status AS status, sr.error AS error, sr.tokens_used AS tokens,
       sr.duration_ms AS duration_ms
