// Stored events after $after_seq in seq order, optionally about one pipeline / run.
MATCH (e:Event)
WHERE e.seq > $after_seq
  AND ($pipeline IS NULL OR e.pipeline = $pipeline)
  AND ($run IS NULL OR e.run = $run)
RETURN e.seq AS seq, e.payload AS payload, e.principal AS principal
ORDER BY e.seq
LIMIT $limit
