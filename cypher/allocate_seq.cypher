// Reserve $count sequence numbers. The write lock on the counter node is held until
// commit, so seq order is commit order across every writer, in any replica.
MERGE (c:Sequence {name: 'event'})
  ON CREATE SET c.value = 0
SET c.value = c.value + $count
RETURN c.value AS last
