// Replay: move the counter to at least $seq (replayed events keep their seq).
MERGE (c:Sequence {name: 'event'})
  ON CREATE SET c.value = 0
SET c.value = CASE WHEN c.value < $seq THEN $seq ELSE c.value END
RETURN c.value AS last
