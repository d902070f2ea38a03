// Distinct (pipeline, step, provider, model) of the answered LLM calls, most calls first.
MATCH (c:LLMCall)
WHERE c.received_at IS NOT NULL
RETURN c.pipeline AS pipeline, c.step AS step, c.provider AS provider, c.model AS model,
       count(*) AS calls
ORDER BY calls DESC, pipeline, step, provider, model
