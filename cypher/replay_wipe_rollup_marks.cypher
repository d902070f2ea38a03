// Replay: the events' marks of being counted in the metric rollups go with the rollups
// (wiped with the derived graph), so the replay counts every event again, once.
MATCH (e:Event)
WHERE e.rolled IS NOT NULL
CALL (e) { REMOVE e.rolled } IN TRANSACTIONS OF 10000 ROWS
