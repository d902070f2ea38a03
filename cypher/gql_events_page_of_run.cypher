// One run's stored events after $after_seq in seq order (optionally one pipeline's).
// Anchored on the Run and its ABOUT edges, as the audit-trail reads anchor on their
// index: a page costs the run's events, not the global log's length (the seq-ordered
// scan of gql_events_page would walk every later event of every run to find these).
// Only events have ABOUT edges, so `e` carries no label: with one, the planner may
// prefer walking the Event seq index in order (the whole log) and expanding each event
// into the run, which on a small or fresh database looks cheaper.
MATCH (r:Run {id: $run})
CALL (r) {
  MATCH (r)<-[:ABOUT]-(e)
  WHERE e.seq > $after_seq
    AND ($pipeline IS NULL OR e.pipeline = $pipeline)
  RETURN e ORDER BY e.seq LIMIT $limit
}
RETURN e.seq AS seq, e.payload AS payload, e.principal AS principal
