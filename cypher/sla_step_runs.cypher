// Step runs (by id) governed by their step's SLA, with the figures the SLA rules need.
UNWIND $ids AS id
MATCH (sr:StepRun {id: id})-[:OF]->(:Step)-[:GOVERNED_BY]->(s:SLA)
RETURN sr {.id, .pipeline, .step, .status, .scheduled_for, .started_at, .ended_at, .cost_usd,
           tokens: sr.tokens_used} AS subject,
       properties(s) AS sla
