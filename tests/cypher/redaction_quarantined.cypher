// Quarantine entries with their redaction counts.
MATCH (q:Quarantined)
RETURN q.event_id AS event_id, q.raw AS raw, q.reason AS reason, q.redactions AS redactions,
       q.redaction_kinds AS kinds
ORDER BY q.received_at
