// The replay finished: nothing to resume. It rebuilt the metric rollups from the whole
// log (wiped, then every event counted): they are complete, whatever they were before.
OPTIONAL MATCH (s:ReplayState {id: 'replay'})
DELETE s
WITH count(*) AS ended
MERGE (r:RollupState {name: 'rollups'})
SET r.complete = true
