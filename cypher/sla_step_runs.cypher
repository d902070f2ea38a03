// Step runs (by id) governed by their step's SLA, with the figures the SLA rules need.
// Write-locked before read (in the evaluator's write transaction): a commit that changes
// the step run waits until the breach verdict on what was read here is written, and the
// evaluation its commit triggers then sees that verdict (see SlaStore.evaluate).
UNWIND $ids AS id
MATCH (sr:StepRun {id: id})-[:OF]->(:Step)-[:GOVERNED_BY]->(s:SLA)
SET sr._sla_lock = true
REMOVE sr._sla_lock
WITH sr, s
// Times as epoch ms: ints unpack far cheaper than driver DateTimes.
RETURN sr {.id, .pipeline, .step, .status, scheduled_for: sr.scheduled_for.epochMillis,
           started_at: sr.started_at.epochMillis, ended_at: sr.ended_at.epochMillis, .cost_usd,
           tokens: sr.tokens_used} AS subject,
       properties(s) AS sla
