// `tracegraph rollups rebuild`: incomplete while it runs, complete when it has summed
// every LLM call, step run, run and event.
MERGE (s:RollupState {name: 'rollups'})
SET s.complete = $complete, s.updated_at = datetime()
