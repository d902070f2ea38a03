// A gate.policy_set event (an admin's setGatePolicy, from the log): which change kinds of
// a pipeline ($pipeline) or, with $pipeline null, of every pipeline without its own
// policy, need approval. Applied in seq order by the event writer, live and in a replay
// alike, so a rebuild from the log gives the same policies. Returns the kinds it replaces.
MERGE (g:GatePolicy {id: $id})
WITH g, g.gated AS before
SET g.pipeline = $pipeline, g.gated = $gated, g.updated_by = $actor,
    g.updated_at = datetime($at), g.applied_seq = $seq
RETURN before
