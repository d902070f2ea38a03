// Retention tests: an LLM call's figures and text.
MATCH (c:LLMCall {id: $id})
RETURN c.input_tokens AS input_tokens, c.output_tokens AS output_tokens,
       c.latency_ms AS latency_ms, c.cost_usd AS cost_usd, c.prompt AS prompt,
       c.response AS response, c.variables AS variables
