// Test only: write-locks a pipeline (held until the caller's transaction ends).
MATCH (p:Pipeline {name: $name})
SET p._test_lock = true
RETURN p.name AS name
