// The metric rollups as stored: every bucket and sketch bin with its figures, to compare
// two builds of them. Buckets and bins emptied by moves (a late prompt naming a call's
// model moves it to another bucket) hold nothing: left out.
CALL () {
  MATCH (r:Rollup) WHERE r.n <> 0
  RETURN collect([r.k, r.n, r.errors, r.succeeded, r.failed, r.cancelled, r.finished,
                  r.input_tokens, r.output_tokens, r.cost_nano, r.estimated_cost_nano]) AS buckets
}
CALL () {
  MATCH (b:RollupBin) WHERE b.n <> 0
  RETURN collect([b.k, b.n]) AS bins
}
RETURN buckets, bins
