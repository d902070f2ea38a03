// Change requests newest first, by state and pipeline when given.
MATCH (c:ChangeRequest)
WHERE ($state IS NULL OR c.state = $state) AND ($pipeline IS NULL OR c.pipeline = $pipeline)
RETURN properties(c) AS request
ORDER BY c.requested_seq DESC
LIMIT $limit
