// Run retention: the oldest runs that ended before the cutoff and were not pruned yet
// (a pruned run that lineage still needs stays, marked lineage_only). Walks Run(ended_at).
MATCH (r:Run)
WHERE r.ended_at < datetime($cutoff) AND r.lineage_only IS NULL
WITH r ORDER BY r.ended_at, r.id
LIMIT $limit
RETURN r.id AS id
