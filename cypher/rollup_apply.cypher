// Moves the metric rollups by a batch's differences (store/rollups.py): one row per
// rollup bucket (kind, level, start, dimensions), summed in Python first, so the cost
// follows the distinct buckets, not the events; then records each changed entity's new
// contribution (by the element id rollup_touched read in this transaction). Rows come
// sorted by key: concurrent writers take the bucket locks in one order. A bucket's latency sketch is two lists on it (bin codes ascending, counts):
// a read fetches one node per bucket, however many bins it holds.
CALL () {
  UNWIND $rollup.buckets AS row
  MERGE (r:Rollup {k: row.k})
    ON CREATE SET r.kind = row.kind, r.level = row.level, r.t = row.t,
                  r.pipeline = row.pipeline, r.step = row.step, r.provider = row.provider,
                  r.model = row.model, r.template = row.template,
                  r.template_version = row.template_version, r.n = 0
  // This SET write-locks the bucket before its sketch is read below: no other writer
  // can change the lists between that read and their rewrite. A bucket holds only its
  // kind's figures (store/rollups.py KIND_FIELDS; a row carries only those).
  SET r.n = r.n + row.n
  FOREACH (_ IN CASE WHEN row.kind = 'call' THEN [1] ELSE [] END |
    SET r.errors = coalesce(r.errors, 0) + row.errors,
        r.input_tokens = coalesce(r.input_tokens, 0) + row.input_tokens,
        r.output_tokens = coalesce(r.output_tokens, 0) + row.output_tokens,
        r.cost_nano = coalesce(r.cost_nano, 0) + row.cost_nano,
        r.estimated_cost_nano = coalesce(r.estimated_cost_nano, 0) + row.estimated_cost_nano)
  FOREACH (_ IN CASE WHEN row.kind = 'step' THEN [1] ELSE [] END |
    SET r.succeeded = coalesce(r.succeeded, 0) + row.succeeded,
        r.failed = coalesce(r.failed, 0) + row.failed,
        r.finished = coalesce(r.finished, 0) + row.finished)
  FOREACH (_ IN CASE WHEN row.kind = 'run' THEN [1] ELSE [] END |
    SET r.succeeded = coalesce(r.succeeded, 0) + row.succeeded,
        r.failed = coalesce(r.failed, 0) + row.failed,
        r.cancelled = coalesce(r.cancelled, 0) + row.cancelled)
  // Read after that lock: whether the bucket has a sketch yet.
  WITH r, row, r.bins IS NULL AS fresh
  CALL (r, row, fresh) {
    // A bucket without a sketch takes the batch's bins as they are (sorted, non-zero):
    // what the merge below would make of them, without its aggregation.
    WITH r, row WHERE fresh AND size(row.bins) > 0
    SET r.bins = [pair IN row.bins | pair[0]], r.counts = [pair IN row.bins | pair[1]]
  }
  CALL (r, row, fresh) {
    WITH r, row WHERE NOT fresh AND size(row.bins) > 0
    UNWIND [i IN range(0, size(r.bins) - 1) | [r.bins[i], r.counts[i]]] + row.bins AS pair
    WITH r, pair[0] AS code, sum(pair[1]) AS n
    ORDER BY code
    WITH r, collect(CASE WHEN n <> 0 THEN code END) AS codes,
         collect(CASE WHEN n <> 0 THEN n END) AS ns
    // An emptied sketch is no property at all (the same node whatever the order).
    SET r.bins = CASE WHEN size(codes) > 0 THEN codes END,
        r.counts = CASE WHEN size(ns) > 0 THEN ns END
  }
  // A bucket left with nothing (its last call moved to another) goes: the rollups are
  // then the same whatever the arrival order.
  WITH r WHERE r.n = 0
  DELETE r
}
CALL () {
  UNWIND $rollup.calls AS row
  MATCH (c:LLMCall)
  WHERE elementId(c) = row.eid
  SET c.rollup = row.rollup
}
CALL () {
  UNWIND $rollup.step_runs AS row
  MATCH (sr:StepRun)
  WHERE elementId(sr) = row.eid
  SET sr.rollup = row.rollup
}
CALL () {
  UNWIND $rollup.runs AS row
  MATCH (r:Run)
  WHERE elementId(r) = row.eid
  SET r.rollup = row.rollup
}
