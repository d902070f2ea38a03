// Replay: link stored events to the run (or else the pipeline) they are about, as the
// events block of apply_batch does for new events, without writing the events again.
// An event that has its edge already (ingested while the replay ran) is left alone:
// the check expands the event's own single edge, not the run's thousands (and its
// versions were counted when it was ingested). One event per row, so versions grow by
// one per row: the run's, and the pipeline card's. Returns the seqs linked here, whose
// step-run versions the replay counts (graph_rows.plan_statements).
// The rows come in a map ($links.rows): one plan for every page size (claim_events).
UNWIND $links.rows AS row
MATCH (e:Event {seq: row.seq})
// Derived now (the catch-up after an outage runs this too): no longer waiting for it.
REMOVE e:Underived
WITH e, row
WHERE NOT EXISTS { (e)-[:ABOUT]->() }
FOREACH (_ IN CASE WHEN row.run IS NOT NULL THEN [1] ELSE [] END |
  MERGE (r:Run {id: row.run})
    ON CREATE SET r.order_key = '0000000000000|' + row.run
  CREATE (e)-[:ABOUT]->(r)
  SET r.version = coalesce(r.version, 0) + 1,
      r.seq = CASE WHEN coalesce(r.seq, 0) > row.seq THEN r.seq ELSE row.seq END)
FOREACH (_ IN CASE WHEN row.run IS NULL AND row.pipeline IS NOT NULL THEN [1] ELSE [] END |
  MERGE (p:Pipeline {name: row.pipeline})
  CREATE (e)-[:ABOUT]->(p))
FOREACH (_ IN CASE WHEN row.pipeline IS NOT NULL THEN [1] ELSE [] END |
  MERGE (p:Pipeline {name: row.pipeline})
  SET p.card_version = coalesce(p.card_version, 0) + 1,
      p.card_seq = CASE WHEN coalesce(p.card_seq, 0) > row.seq THEN p.card_seq ELSE row.seq END)
RETURN e.seq AS seq
