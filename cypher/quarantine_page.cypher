// Quarantined events oldest first, a page at a time (keyset: received_at, then id).
// $status: 'open' (not resolved), 'resolved', or 'all'. Null $after_* starts at the beginning.
MATCH (q:Quarantined)
WHERE ($status = 'all'
       OR ($status = 'open' AND q.resolved_at IS NULL)
       OR ($status = 'resolved' AND q.resolved_at IS NOT NULL))
  AND ($after_time IS NULL
       OR q.received_at > datetime($after_time)
       OR (q.received_at = datetime($after_time) AND q.id > $after_id))
RETURN q {.*} AS entry
ORDER BY q.received_at, q.id
LIMIT $limit
