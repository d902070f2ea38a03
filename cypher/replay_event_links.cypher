// Replay: link stored events to the run (or else the pipeline) they are about, as the
// events block of apply_batch does for new events, without writing the events again.
// An event that has its edge already (ingested while the replay ran) is left alone:
// the check expands the event's own single edge, not the run's thousands.
UNWIND $rows AS row
MATCH (e:Event {seq: row.seq})
WITH e, row
WHERE NOT EXISTS { (e)-[:ABOUT]->() }
FOREACH (_ IN CASE WHEN row.run IS NOT NULL THEN [1] ELSE [] END |
  MERGE (r:Run {id: row.run})
    ON CREATE SET r.order_key = '0000000000000|' + row.run
  CREATE (e)-[:ABOUT]->(r))
FOREACH (_ IN CASE WHEN row.run IS NULL AND row.pipeline IS NOT NULL THEN [1] ELSE [] END |
  MERGE (p:Pipeline {name: row.pipeline})
  CREATE (e)-[:ABOUT]->(p))
