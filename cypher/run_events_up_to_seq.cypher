// One run's stored events up to a seq (inclusive), in seq order: what a point-in-time
// view of the run folds (history/fold.py). Anchored on the Run and its ABOUT edges, so
// the cost is the run's events, never the whole log (like events_after_seq_of_run; no
// label on `e` for the same planner reason). $received_before (RFC 3339 text, or null)
// keeps only events received at or before that instant: "what was known at 02:14".
// $limit caps the read; one more than the cap tells the caller the run is too long.
MATCH (r:Run {id: $run})
CALL (r) {
  MATCH (r)<-[:ABOUT]-(e)
  WHERE e.seq <= $as_of_seq
    AND ($received_before IS NULL OR e.received_at <= datetime($received_before))
  RETURN e ORDER BY e.seq LIMIT $limit
}
RETURN e.seq AS seq, e.payload AS payload, toString(e.received_at) AS received_at,
       e.redactions AS redactions, e.redaction_kinds AS redaction_kinds
