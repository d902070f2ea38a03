// For the timer: step runs not started yet or still running whose step SLA bounds start
// delay or duration.
MATCH (sr:StepRun)
WHERE sr.status IN ['scheduled', 'running']
MATCH (sr)-[:OF]->(:Step)-[:GOVERNED_BY]->(s:SLA)
WHERE s.max_duration_ms IS NOT NULL OR s.max_start_delay_ms IS NOT NULL
// Times as epoch ms: ints unpack far cheaper than driver DateTimes.
RETURN sr {.id, .pipeline, .step, .status, scheduled_for: sr.scheduled_for.epochMillis,
           started_at: sr.started_at.epochMillis, ended_at: sr.ended_at.epochMillis, .cost_usd,
           tokens: sr.tokens_used} AS subject,
       properties(s) AS sla
