// The gate policy in force for a pipeline: its own, else the default (either may be
// absent: then nothing is gated).
OPTIONAL MATCH (own:GatePolicy {id: 'pipeline:' + $pipeline})
OPTIONAL MATCH (default:GatePolicy {id: 'default'})
RETURN properties(own) AS own, properties(default) AS default
