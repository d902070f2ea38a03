// For the timer: step runs not started yet or still running whose step SLA bounds start
// delay or duration.
MATCH (sr:StepRun)
WHERE sr.status IN ['scheduled', 'running']
MATCH (sr)-[:OF]->(:Step)-[:GOVERNED_BY]->(s:SLA)
WHERE s.max_duration_ms IS NOT NULL OR s.max_start_delay_ms IS NOT NULL
RETURN sr {.id, .pipeline, .step, .status, .scheduled_for, .started_at, .ended_at, .cost_usd,
           tokens: sr.tokens_used} AS subject,
       properties(s) AS sla
