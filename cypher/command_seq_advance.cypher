// Seqs for $n new commands (the lock is held since command_seq_lock).
MATCH (c:Sequence {name: 'command'})
SET c.value = c.value + $n
RETURN c.value AS last
