// The stored event log in seq order, a page at a time (replay, resume).
MATCH (e:Event)
WHERE e.seq > $after_seq
RETURN e.seq AS seq, e.payload AS payload, e.fingerprint AS fingerprint,
       e.received_at AS received_at, e.principal AS principal,
       e.redactions AS redactions, e.redaction_kinds AS redaction_kinds
ORDER BY e.seq
LIMIT $limit
