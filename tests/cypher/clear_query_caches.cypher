// Empties Neo4j's plan cache; its answer says how many plans it held
// ("Query caches successfully cleared of 3 queries." or "Query cache already empty.").
CALL db.clearQueryCaches()
