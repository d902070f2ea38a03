// response.received: completes the LLM call (created on the spot if the prompt is late).
UNWIND $rows AS row
MERGE (c:LLMCall {id: row.id})
SET c.run = row.run, c.call = row.call,
    c.pipeline = row.pipeline, c.step = coalesce(row.step, c.step),
    c.step_run = coalesce(row.step_run, c.step_run),
    c.response = row.response, c.response_messages = row.response_messages,
    c.response_input_tokens = row.input_tokens,
    c.input_tokens = coalesce(row.input_tokens, c.prompt_input_tokens),
    c.output_tokens = row.output_tokens, c.latency_ms = row.latency_ms,
    c.cost_reported = row.cost_usd, c.finish_reason = row.finish_reason,
    c.error = row.error, c.received_at = datetime(row.time),
    // Redactions at ingest: the response's, and the call's (prompt + response; kinds merged).
    c.response_redactions = row.redactions, c.response_redaction_kinds = row.redaction_kinds,
    c.redactions = coalesce(c.prompt_redactions, 0) + row.redactions,
    c.redaction_kinds = coalesce(c.prompt_redaction_kinds, []) +
      [k IN row.redaction_kinds WHERE NOT k IN coalesce(c.prompt_redaction_kinds, [])]
WITH c, row
CALL (c, row) {
  WITH c, row WHERE row.step_run IS NOT NULL
  MATCH (sr:StepRun {id: row.step_run})
  MERGE (sr)-[:MADE]->(c)
}
CALL (c, row) {
  WITH c, row WHERE row.step_run IS NULL
  MATCH (r:Run {id: row.run})
  MERGE (r)-[:MADE]->(c)
}
