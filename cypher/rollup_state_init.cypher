// At startup: the metric rollups' completeness marker. A database with nothing to sum
// yet starts complete (every write keeps the rollups up to date from then on); one
// written by a version without rollups starts incomplete until `tracegraph rollups
// rebuild` has summed its history. Incomplete rollups are not read: the metrics are
// computed from the graph as before.
WITH NOT (EXISTS { MATCH (:Event) } OR EXISTS { MATCH (:LLMCall) }
          OR EXISTS { MATCH (:StepRun) } OR EXISTS { MATCH (:Run) }) AS nothing_yet
MERGE (s:RollupState {name: 'rollups'})
  ON CREATE SET s.complete = nothing_yet
