// What run-filtered reads used to run (before gql_events_page_of_run): the whole log in
// seq order, filtered by run. Timed beside its replacement, for the figure it replaced.
MATCH (e:Event)
WHERE e.seq > $after_seq
  AND ($pipeline IS NULL OR e.pipeline = $pipeline)
  AND ($run IS NULL OR e.run = $run)
RETURN e.seq AS seq, e.payload AS payload, e.principal AS principal
ORDER BY e.seq
LIMIT $limit
