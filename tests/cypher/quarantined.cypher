MATCH (q:Quarantined)
RETURN q.event_id AS event_id, q.raw AS raw, q.reason AS reason
ORDER BY q.received_at, q.event_id
