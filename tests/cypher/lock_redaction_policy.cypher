// Test only: holds the stored redaction policy's key (a delete and an uncommitted
// re-create lock its unique index entry), so the start-up MERGE on it waits until the
// caller's transaction ends.
MATCH (p:RedactionPolicy {id: $id})
DETACH DELETE p
WITH count(*) AS deleted
CREATE (p:RedactionPolicy {id: $id})
RETURN deleted
