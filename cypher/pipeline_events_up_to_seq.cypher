// A pipeline's own events (definitions, owner and SLA changes, run-less logs: those
// ABOUT the Pipeline node) up to a seq, in seq order, and how many events of the
// pipeline (any run, its own) the log held by then: the pipeline card's version as of
// that seq. Both anchored on the pipeline (its ABOUT edges; the (pipeline, time) index),
// never a walk of the whole log. $limit caps the first read (one more: too many).
MATCH (p:Pipeline {name: $pipeline})
CALL (p) {
  MATCH (p)<-[:ABOUT]-(e)
  WHERE e.seq <= $as_of_seq
    AND e.type IN ['pipeline.defined', 'pipeline.owner_set', 'pipeline.sla_set']
  RETURN e ORDER BY e.seq LIMIT $limit
}
RETURN e.seq AS seq, e.payload AS payload, toString(e.received_at) AS received_at,
       e.redactions AS redactions, e.redaction_kinds AS redaction_kinds
