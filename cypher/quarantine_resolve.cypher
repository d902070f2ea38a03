// Mark a quarantined event resolved by a re-submission that was stored (or was already
// stored). Only an open entry changes, so a concurrent second resolve returns nothing.
MATCH (q:Quarantined {id: $id})
WHERE q.resolved_at IS NULL
SET q.resolved_at = datetime($resolved_at),
    q.resolved_seq = $resolved_seq,
    q.resolved_event_id = $resolved_event_id,
    q.resolved_by = $resolved_by,
    q.resolution = 'resubmitted'
RETURN q {.*} AS entry
