// prompt.sent: the LLM call, its model and prompt version. The step run (if any) was
// upserted by apply_step_events in the same transaction.
UNWIND $rows AS row
MERGE (c:LLMCall {id: row.id})
SET c.run = row.run, c.call = row.call,
    c.pipeline = row.pipeline, c.step = coalesce(row.step, c.step),
    c.step_run = coalesce(row.step_run, c.step_run),
    c.provider = row.provider, c.model = row.model,
    c.template = row.template, c.template_version = row.template_version,
    c.prompt = row.prompt, c.prompt_messages = row.prompt_messages, c.variables = row.variables,
    c.prompt_input_tokens = row.input_tokens, c.params = row.params, c.sent_at = datetime(row.time),
    c.input_tokens = coalesce(c.response_input_tokens, row.input_tokens),
    // Redactions at ingest: the prompt's, and the call's (prompt + response; kinds merged).
    c.prompt_redactions = row.redactions, c.prompt_redaction_kinds = row.redaction_kinds,
    c.redactions = row.redactions + coalesce(c.response_redactions, 0),
    c.redaction_kinds = row.redaction_kinds +
      [k IN coalesce(c.response_redaction_kinds, []) WHERE NOT k IN row.redaction_kinds]
MERGE (m:Model {id: row.model_id})
  ON CREATE SET m.provider = row.provider, m.name = row.model
MERGE (c)-[:USED_MODEL]->(m)
FOREACH (pv_id IN CASE WHEN row.prompt_version_id IS NULL THEN [] ELSE [row.prompt_version_id] END |
  MERGE (pv:PromptVersion {id: pv_id})
    ON CREATE SET pv.template = row.template, pv.version = row.template_version
  MERGE (c)-[:USED_PROMPT]->(pv))
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
