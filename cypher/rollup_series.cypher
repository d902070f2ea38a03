// Metric rollups summed per requested bucket (store/metrics_reads.py), in one statement
// for the whole request. $ranges are {level ('m' minute, 'h' hour), from, to} (epoch
// ms): the buckets of a series cut into whole hours and the minutes around them, runs of
// one level merged, so a series of hourly buckets is one index seek. Each rollup lies in
// one bucket: its index is (t - $from) / $bucket_ms. Filters as in the exact statements
// (metrics_*.cypher): a rollup without the filtered dimension (a run has no step) never
// matches one. $by_dims: also grouped by pipeline, step, provider and model
// (breakdowns). Sums are added here; the latency sketches of the kinds in $sketch_kinds
// come back as each bucket's lists (bin codes, counts), merged in Python. `complete`:
// whether the rollups may be read at all (RollupState), else no rows and the caller
// reads the graph.
OPTIONAL MATCH (state:RollupState {name: 'rollups'})
WITH coalesce(state.complete, false) AS complete
CALL (complete) {
  UNWIND CASE WHEN complete THEN $ranges ELSE [] END AS rg
  // Both branches are planned for every request; the one not wanted seeks with a null
  // key, which finds nothing. (A filter on $pipeline alone was placed above its seek:
  // the pipeline-less branch read every rollup in range, then dropped them.)
  CALL (rg) {
    MATCH (r:Rollup)
    // Hinted: planned while there were few rollups, the planner scanned another index.
    USING INDEX r:Rollup(pipeline, level, t)
    WHERE r.pipeline = $pipeline AND r.level = rg.level AND r.t >= rg.from AND r.t < rg.to
    RETURN r
    UNION ALL
    // Without a pipeline: one seek per requested kind.
    UNWIND $kinds AS kind
    MATCH (r:Rollup)
    USING INDEX r:Rollup(kind, level, t)
    WHERE r.kind = kind AND r.level = CASE WHEN $pipeline IS NULL THEN rg.level END
      AND r.t >= rg.from AND r.t < rg.to
    RETURN r
  }
  WITH r
  WHERE r.kind IN $kinds
    AND ($step IS NULL OR r.step = $step)
    AND ($provider IS NULL OR r.provider = $provider)
    AND ($model IS NULL OR r.model = $model)
  WITH (r.t - $from) / $bucket_ms AS bucket, r.kind AS kind,
       CASE WHEN $by_dims THEN [r.pipeline, r.step, r.provider, r.model] END AS dims,
       sum(r.n) AS n, sum(r.errors) AS errors, sum(r.succeeded) AS succeeded,
       sum(r.failed) AS failed, sum(r.cancelled) AS cancelled, sum(r.finished) AS finished,
       sum(r.input_tokens) AS input_tokens, sum(r.output_tokens) AS output_tokens,
       sum(r.cost_nano) AS cost_nano, sum(r.estimated_cost_nano) AS estimated_cost_nano,
       // Both lists of a bucket or neither (collect skips nulls): they stay aligned.
       collect(CASE WHEN r.kind IN $sketch_kinds THEN r.bins END) AS bins,
       collect(CASE WHEN r.kind IN $sketch_kinds THEN r.counts END) AS counts
  RETURN collect([bucket, kind, dims, n, errors, succeeded, failed, cancelled, finished,
                  input_tokens, output_tokens, cost_nano, estimated_cost_nano,
                  bins, counts]) AS rows
}
RETURN complete, rows
