// The first acknowledgement stands (acknowledging twice changes nothing). The breach is
// write-locked before it is read, so of two racing acknowledgements exactly one sees
// `changed` (and is audited). $note: the deprecated free-text `by` of the mutation.
MATCH (b:SLABreach {id: $id})
SET b._lock = true
REMOVE b._lock
WITH b, b.acknowledged_at IS NULL AS changed
SET b.version = coalesce(b.version, 0) + CASE WHEN changed THEN 1 ELSE 0 END,
    b.acknowledged_by = coalesce(b.acknowledged_by, $by),
    b.acknowledged_at = coalesce(b.acknowledged_at, datetime({epochMillis: $now_ms})),
    b.acknowledged_note = CASE WHEN changed THEN $note ELSE b.acknowledged_note END
RETURN b.id AS id, changed, b.acknowledged_by AS by, toString(b.acknowledged_at) AS at
