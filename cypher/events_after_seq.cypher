// Stored events after a seq in seq order, optionally filtered by pipeline and types, a
// page at a time (subscription replay, resume and gap fill). A run filter reads
// events_after_seq_of_run instead (see store/event_reads.py).
// A null filter parameter means "any". An Event without its payload (a wipe, replay or
// retention delete under way) has nothing to deliver: passed over.
MATCH (e:Event)
WHERE e.seq > $after_seq AND e.payload IS NOT NULL
  AND ($pipeline IS NULL OR e.pipeline = $pipeline)
  AND ($types IS NULL OR e.type IN $types)
RETURN e.seq AS seq, e.payload AS payload, e.fingerprint AS fingerprint,
       e.received_at AS received_at, e.principal AS principal
ORDER BY e.seq
LIMIT $limit
