// Stored events after $after_seq in seq order, optionally about one pipeline (a run
// filter reads gql_events_page_of_run instead: see store/event_reads.py).
MATCH (e:Event)
WHERE e.seq > $after_seq
  AND ($pipeline IS NULL OR e.pipeline = $pipeline)
RETURN e.seq AS seq, e.payload AS payload, e.principal AS principal
ORDER BY e.seq
LIMIT $limit
