// Text retention: the calls' text goes (archived first); tokens, cost and latency stay.
// Fenced (issue 20): applied only while $fence (the retention lease's holder and token)
// is current; the lease node is locked (SET) so a takeover cannot commit in between. A
// null $fence is unfenced (the CLI). `current` says which it was.
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token) AS current
CALL (current) {
  WITH current WHERE current
  UNWIND $batch.ids AS id
  MATCH (c:LLMCall {id: id})
  REMOVE c.prompt, c.prompt_messages, c.variables, c.response, c.response_messages
  RETURN count(*) AS stripped
}
RETURN current, stripped
