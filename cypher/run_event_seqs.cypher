// The seqs of one run's stored events with the time each was received, in seq order:
// the stops of the run page's time slider. Run-anchored (the run's events only).
MATCH (r:Run {id: $run})
CALL (r) {
  MATCH (r)<-[:ABOUT]-(e)
  RETURN e ORDER BY e.seq LIMIT $limit
}
RETURN e.seq AS seq, toString(e.received_at) AS received_at, e.type AS type
