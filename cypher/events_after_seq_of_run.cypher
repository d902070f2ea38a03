// One run's stored events after a seq in seq order, optionally filtered by pipeline and
// types (subscription replay, resume and gap fill for a run filter). Anchored on the
// Run and its ABOUT edges: the cost is the run's events, not the global log's length.
// Only events have ABOUT edges, so `e` carries no label: with one, the planner may
// prefer walking the Event seq index in order (the whole log) and expanding each event
// into the run, which on a small or fresh database looks cheaper. An Event without its
// payload (a wipe, replay or retention delete under way) is passed over.
MATCH (r:Run {id: $run})
CALL (r) {
  MATCH (r)<-[:ABOUT]-(e)
  WHERE e.seq > $after_seq AND e.payload IS NOT NULL
    AND ($pipeline IS NULL OR e.pipeline = $pipeline)
    AND ($types IS NULL OR e.type IN $types)
  RETURN e ORDER BY e.seq LIMIT $limit
}
RETURN e.seq AS seq, e.payload AS payload, e.fingerprint AS fingerprint,
       e.received_at AS received_at, e.principal AS principal
