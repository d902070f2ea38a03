// For the timer: step runs not started yet or still running whose step SLA bounds start
// delay or duration.
MATCH (sr:StepRun)
WHERE sr.status IN ['scheduled', 'running']
MATCH (sr)-[:OF]->(:Step)-[:GOVERNED_BY]->(s:SLA)
WHERE s.max_duration_ms IS NOT NULL OR s.max_start_delay_ms IS NOT NULL
// Write-locked before read (in the evaluator's write transaction): a commit that changes
// the work waits until the breach verdict on what was read here is written, and the
// evaluation its commit triggers then sees that verdict (see SlaStore.evaluate).
SET sr._sla_lock = true
REMOVE sr._sla_lock
WITH sr, s
// Times as epoch ms: ints unpack far cheaper than driver DateTimes.
RETURN sr {.id, .pipeline, .step, .status, scheduled_for: sr.scheduled_for.epochMillis,
           started_at: sr.started_at.epochMillis, ended_at: sr.ended_at.epochMillis, .cost_usd,
           tokens: sr.tokens_used} AS subject,
       properties(s) AS sla
