// Issuing commands starts here: the write lock on the command counter, held until commit,
// serialises every issuer on every replica. So seq order is commit order (a tailer that
// read up to seq n never misses a command below it later), and an idempotency key looked
// up after this sees every command committed before (no two commands for one key).
MERGE (c:Sequence {name: 'command'})
  ON CREATE SET c.value = 0
SET c.value = c.value + 0
RETURN c.value AS last
