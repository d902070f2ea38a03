// Text retention: the calls' text goes (archived first); tokens, cost and latency stay.
UNWIND $batch.ids AS id
MATCH (c:LLMCall {id: id})
REMOVE c.prompt, c.prompt_messages, c.variables, c.response, c.response_messages
RETURN count(*) AS stripped
