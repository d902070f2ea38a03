// One LLM call's stored text and redaction counts.
MATCH (c:LLMCall {id: $id})
RETURN c.prompt AS prompt, c.prompt_messages AS prompt_messages, c.variables AS variables,
       c.response AS response, c.redactions AS redactions, c.redaction_kinds AS kinds,
       c.prompt_redactions AS prompt_redactions, c.response_redactions AS response_redactions
