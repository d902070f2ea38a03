// Ids of the open breaches (not acknowledged, not resolved): the scope of
// breachChanged beside the breaches its subscriber names.
MATCH (b:SLABreach)
WHERE b.resolved_at IS NULL AND b.acknowledged_at IS NULL
RETURN b.id AS id
ORDER BY b.at DESC, id
LIMIT $limit
