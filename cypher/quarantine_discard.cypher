// Discard an open quarantined event: resolved without storing anything, with the
// reviewer and their reason. Only an open entry changes, so a concurrent second
// resolution (discard or re-submission) returns nothing.
MATCH (q:Quarantined {id: $id})
WHERE q.resolved_at IS NULL
SET q.resolved_at = datetime($resolved_at),
    q.resolved_by = $resolved_by,
    q.resolution = 'discarded',
    q.discard_reason = $reason
RETURN q {.*} AS entry
