// A database as a version without rollups left it: no rollups, no recorded
// contributions, no counted marks, the marker incomplete.
MATCH (n)
WHERE n:Rollup
DETACH DELETE n
WITH count(*) AS deleted
OPTIONAL MATCH (x)
WHERE x.rollup IS NOT NULL OR x.rolled IS NOT NULL
REMOVE x.rollup, x.rolled
WITH count(x) AS stripped
MERGE (s:RollupState {name: 'rollups'})
SET s.complete = false
RETURN stripped
