// The command counter, created once (in its own transaction) before the first issue.
MERGE (c:Sequence {name: 'command'})
  ON CREATE SET c.value = 0
RETURN c.value AS last
