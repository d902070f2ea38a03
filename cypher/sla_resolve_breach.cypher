// The first resolution stands (resolving twice changes nothing). The breach is
// write-locked before it is read, so of two racing resolutions exactly one sees
// `changed` (and is audited). $note: the deprecated free-text `by` of the mutation.
MATCH (b:SLABreach {id: $id})
SET b._lock = true
REMOVE b._lock
WITH b, b.resolved_at IS NULL AS changed
SET b.version = coalesce(b.version, 0) + CASE WHEN changed THEN 1 ELSE 0 END,
    b.resolved_by = coalesce(b.resolved_by, $by),
    b.resolved_at = coalesce(b.resolved_at, datetime({epochMillis: $now_ms})),
    b.resolved_note = CASE WHEN changed THEN $note ELSE b.resolved_note END
RETURN b.id AS id, changed, b.resolved_by AS by, toString(b.resolved_at) AS at
