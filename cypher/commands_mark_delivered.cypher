// pending -> delivered once an executor received the command. The property write takes
// the node's write lock before the state is read again, so a concurrent acknowledgement
// (or expiry) on another replica is never overwritten (no lost update). Locks are taken
// in seq order, as commands_expire takes them, so two replicas marking and expiring
// overlapping commands never wait on each other crosswise (a deadlock).
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.ids AS id
MATCH (c:Command {id: id})
WHERE c.state = 'pending'
WITH c
ORDER BY c.seq
SET c._lock = true
REMOVE c._lock
WITH c
WHERE c.state = 'pending'
SET c.state = 'delivered', c.delivered_at = datetime($now)
RETURN count(c) AS marked
