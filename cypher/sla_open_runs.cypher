// For the timer: runs not started yet or still running whose pipeline SLA bounds start
// delay or duration (the only fields that can be breached without a new event).
MATCH (r:Run)
WHERE r.status IN ['scheduled', 'running']
MATCH (r)-[:OF]->(:Pipeline)-[:GOVERNED_BY]->(s:SLA)
WHERE s.max_duration_ms IS NOT NULL OR s.max_start_delay_ms IS NOT NULL
// Write-locked before read (in the evaluator's write transaction): a commit that changes
// the work waits until the breach verdict on what was read here is written, and the
// evaluation its commit triggers then sees that verdict (see SlaStore.evaluate).
SET r._sla_lock = true
REMOVE r._sla_lock
WITH r, s
// Times as epoch ms: ints unpack far cheaper than driver DateTimes.
RETURN r {.id, .pipeline, .status, scheduled_for: r.scheduled_for.epochMillis,
          started_at: r.started_at.epochMillis, ended_at: r.ended_at.epochMillis, .cost_usd,
          tokens: coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)} AS subject,
       properties(s) AS sla
