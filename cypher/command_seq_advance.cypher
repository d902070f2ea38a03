// The issuing transaction's last statement: seqs for the commands it created ($ids, in
// order). The counter's write lock is held from here to commit, so every issuer on every
// replica commits in seq order (a tailer that read up to seq n never misses a command
// below it later), and the locked span is this statement and the commit only. The one
// touch of the counter in the transaction: a second statement on it makes concurrent
// issuers deadlock (measured on 5.26). No row: the counter does not exist yet
// (command_seq_init creates it).
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
MATCH (counter:Sequence {name: 'command'})
SET counter.value = counter.value + size($batch.ids)
WITH counter.value - size($batch.ids) AS base
UNWIND range(0, size($batch.ids) - 1) AS i
MATCH (c:Command {id: $batch.ids[i]})
SET c.seq = base + i + 1
RETURN c {.*} AS command
ORDER BY c.seq
