// Test only: write-locks the stored redaction policy (held until the caller's transaction ends).
MATCH (p:RedactionPolicy)
SET p._test_lock = true
RETURN p.id AS id
