// Metric rollups summed per requested bucket (store/metrics_reads.py): $ranges are
// {level ('m' minute, 'h' hour), from, to (epoch ms), bucket (index)}, the buckets of a
// series cut into whole hours and the minutes around them. Filters as in the exact
// statements (metrics_*.cypher): a rollup without the filtered dimension (a run has no
// step) never matches one. $by_dims: also grouped by pipeline, step, provider and model
// (breakdowns). Each range seeks the (pipeline, level, t) or (level, t) index.
UNWIND $ranges AS rg
CALL (rg) {
  WITH rg WHERE $pipeline IS NOT NULL
  MATCH (r:Rollup)
  // Hinted: planned while there were few rollups, the planner scanned the other index.
  USING INDEX r:Rollup(pipeline, level, t)
  WHERE r.pipeline = $pipeline AND r.level = rg.level AND r.t >= rg.from AND r.t < rg.to
  RETURN r
  UNION ALL
  WITH rg WHERE $pipeline IS NULL
  MATCH (r:Rollup)
  USING INDEX r:Rollup(level, t)
  WHERE r.level = rg.level AND r.t >= rg.from AND r.t < rg.to
  RETURN r
}
WITH rg, r
WHERE r.kind IN $kinds
  AND ($step IS NULL OR r.step = $step)
  AND ($provider IS NULL OR r.provider = $provider)
  AND ($model IS NULL OR r.model = $model)
RETURN rg.bucket AS bucket, r.kind AS kind,
       CASE WHEN $by_dims THEN [r.pipeline, r.step, r.provider, r.model] END AS dims,
       sum(r.n) AS n, sum(r.errors) AS errors, sum(r.succeeded) AS succeeded,
       sum(r.failed) AS failed, sum(r.cancelled) AS cancelled, sum(r.finished) AS finished,
       sum(r.input_tokens) AS input_tokens, sum(r.output_tokens) AS output_tokens,
       sum(r.cost_nano) AS cost_nano, sum(r.estimated_cost_nano) AS estimated_cost_nano
