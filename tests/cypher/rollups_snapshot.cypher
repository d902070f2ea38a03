// The metric rollups as stored: every bucket with its figures and latency sketch, to
// compare two builds of them (emptied ones are deleted, so any order leaves the same
// nodes).
MATCH (r:Rollup)
RETURN collect([r.k, r.n, r.errors, r.succeeded, r.failed, r.cancelled, r.finished,
                r.input_tokens, r.output_tokens, r.cost_nano, r.estimated_cost_nano,
                r.bins, r.counts]) AS buckets
