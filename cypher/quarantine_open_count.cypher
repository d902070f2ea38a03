// How many quarantined events are still waiting for a fix (the metrics gauge).
MATCH (q:Quarantined)
WHERE q.resolved_at IS NULL
RETURN count(q) AS open
