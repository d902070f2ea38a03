// Run retention dry run: runs a pass would archive and prune.
MATCH (r:Run)
WHERE r.ended_at < datetime($cutoff) AND r.lineage_only IS NULL
RETURN count(r) AS count
