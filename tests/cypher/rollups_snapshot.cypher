// The metric rollups as stored: every bucket and sketch bin with its figures, to compare
// two builds of them (emptied ones are deleted, so any order leaves the same nodes).
CALL () {
  MATCH (r:Rollup)
  RETURN collect([r.k, r.n, r.errors, r.succeeded, r.failed, r.cancelled, r.finished,
                  r.input_tokens, r.output_tokens, r.cost_nano, r.estimated_cost_nano]) AS buckets
}
CALL () {
  MATCH (b:RollupBin)
  RETURN collect([b.k, b.n]) AS bins
}
RETURN buckets, bins
