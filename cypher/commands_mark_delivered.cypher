// pending -> delivered once an executor received the command. The property write takes
// the node's write lock before the state is read again, so a concurrent acknowledgement
// (or expiry) on another replica is never overwritten (no lost update).
UNWIND $ids AS id
MATCH (c:Command {id: id})
WHERE c.state = 'pending'
SET c._lock = true
REMOVE c._lock
WITH c
WHERE c.state = 'pending'
SET c.state = 'delivered', c.delivered_at = datetime($now)
RETURN count(c) AS marked
