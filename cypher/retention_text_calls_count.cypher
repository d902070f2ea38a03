// Text retention dry run: LLM calls whose text a pass would archive.
CALL () {
  MATCH (c:LLMCall) WHERE c.sent_at < datetime($cutoff)
  RETURN c
  UNION
  MATCH (c:LLMCall) WHERE c.received_at < datetime($cutoff) AND c.sent_at IS NULL
  RETURN c
}
WITH c
WHERE c.prompt IS NOT NULL OR c.response IS NOT NULL OR c.prompt_messages IS NOT NULL
   OR c.response_messages IS NOT NULL OR c.variables IS NOT NULL
RETURN count(c) AS count
