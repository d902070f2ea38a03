// Text retention: LLM calls sent (or, without a prompt, answered) before the cutoff that
// still hold text, with the text properties for the archive. Walks LLMCall(sent_at) and
// LLMCall(received_at).
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
WITH c LIMIT $limit
RETURN c.id AS key, labels(c) AS labels,
       {prompt: c.prompt, prompt_messages: c.prompt_messages, variables: c.variables,
        response: c.response, response_messages: c.response_messages} AS props
