// The stored event log in seq order, a page at a time (replay, resume).
MATCH (e:Event)
WHERE e.seq > $after_seq
RETURN e.seq AS seq, e.payload AS payload, e.fingerprint AS fingerprint,
       e.received_at AS received_at, e.principal AS principal
ORDER BY e.seq
LIMIT $limit
