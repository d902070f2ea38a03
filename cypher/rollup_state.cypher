// Whether the metric rollups sum the whole graph (else the metrics read the graph).
OPTIONAL MATCH (s:RollupState {name: 'rollups'})
RETURN coalesce(s.complete, false) AS complete
