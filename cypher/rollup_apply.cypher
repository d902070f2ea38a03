// Moves the metric rollups by a batch's differences (store/rollups.py): one row per
// rollup bucket (kind, level, start, dimensions) and one per sketch bin, summed in
// Python first, so the cost follows the distinct buckets, not the events; then records
// each changed entity's new contribution. Emptied buckets and bins are deleted. Rows come sorted by key: concurrent writers
// take the bucket locks in one order.
CALL () {
  UNWIND $rollup.buckets AS row
  MERGE (r:Rollup {k: row.k})
    ON CREATE SET r.kind = row.kind, r.level = row.level, r.t = row.t,
                  r.pipeline = row.pipeline, r.step = row.step, r.provider = row.provider,
                  r.model = row.model, r.template = row.template,
                  r.template_version = row.template_version,
                  r.n = 0, r.errors = 0, r.succeeded = 0, r.failed = 0, r.cancelled = 0,
                  r.finished = 0, r.input_tokens = 0, r.output_tokens = 0,
                  r.cost_nano = 0, r.estimated_cost_nano = 0
  SET r.n = r.n + row.n, r.errors = r.errors + row.errors,
      r.succeeded = r.succeeded + row.succeeded, r.failed = r.failed + row.failed,
      r.cancelled = r.cancelled + row.cancelled, r.finished = r.finished + row.finished,
      r.input_tokens = r.input_tokens + row.input_tokens,
      r.output_tokens = r.output_tokens + row.output_tokens,
      r.cost_nano = r.cost_nano + row.cost_nano,
      r.estimated_cost_nano = r.estimated_cost_nano + row.estimated_cost_nano
  // A bucket left with nothing (its last call moved to another) goes: the rollups are
  // then the same whatever the arrival order.
  WITH r WHERE r.n = 0
  DELETE r
}
CALL () {
  UNWIND $rollup.bins AS row
  MERGE (b:RollupBin {k: row.k})
    ON CREATE SET b.kind = row.kind, b.level = row.level, b.t = row.t,
                  b.pipeline = row.pipeline, b.step = row.step, b.provider = row.provider,
                  b.model = row.model, b.sign = row.sign, b.idx = row.idx, b.n = 0
  SET b.n = b.n + row.n
  WITH b WHERE b.n = 0
  DELETE b
}
CALL () {
  UNWIND $rollup.calls AS row
  MATCH (c:LLMCall {id: row.id})
  SET c.rollup = row.rollup
}
CALL () {
  UNWIND $rollup.step_runs AS row
  MATCH (sr:StepRun {id: row.id})
  SET sr.rollup = row.rollup
}
CALL () {
  UNWIND $rollup.runs AS row
  MATCH (r:Run {id: row.id})
  SET r.rollup = row.rollup
}
