// The latency/duration sketch bins of the rollups rollup_series sums, summed per
// requested bucket, kind and bin (sign, key of ddsketch's mapping); same ranges,
// filters and $by_dims.
UNWIND $ranges AS rg
CALL (rg) {
  WITH rg WHERE $pipeline IS NOT NULL
  MATCH (b:RollupBin)
  // Hinted: planned while there were few rollups, the planner scanned the other index.
  USING INDEX b:RollupBin(pipeline, level, t)
  WHERE b.pipeline = $pipeline AND b.level = rg.level AND b.t >= rg.from AND b.t < rg.to
  RETURN b
  UNION ALL
  WITH rg WHERE $pipeline IS NULL
  MATCH (b:RollupBin)
  USING INDEX b:RollupBin(level, t)
  WHERE b.level = rg.level AND b.t >= rg.from AND b.t < rg.to
  RETURN b
}
WITH rg, b
WHERE b.kind IN $kinds
  AND ($step IS NULL OR b.step = $step)
  AND ($provider IS NULL OR b.provider = $provider)
  AND ($model IS NULL OR b.model = $model)
WITH rg.bucket AS bucket, b.kind AS kind,
     CASE WHEN $by_dims THEN [b.pipeline, b.step, b.provider, b.model] END AS dims,
     b.sign AS sign, b.idx AS idx, sum(b.n) AS n
WHERE n > 0
RETURN bucket, kind, dims, sign, idx, n
