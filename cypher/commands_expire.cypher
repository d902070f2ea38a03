// Commands no executor acknowledged in time become expired, with the reason. Safe to run
// on every replica at once: each node is write-locked before its state is read again, so
// a command acknowledged meanwhile (or expired by another replica) is left alone.
MATCH (c:Command)
WHERE c.state IN ['pending', 'delivered'] AND c.expires_at <= datetime($now)
WITH c
ORDER BY c.seq
LIMIT $limit
SET c._lock = true
REMOVE c._lock
WITH c
WHERE c.state IN ['pending', 'delivered']
SET c.state_reason = CASE c.state
      WHEN 'pending' THEN 'expired: no executor of pipeline ' + c.pipeline + ' received it within ' + toString($ttl_s) + ' s'
      ELSE 'expired: delivered but no executor acknowledged it within ' + toString($ttl_s) + ' s' END,
    c.finished_at = datetime($now),
    c.state = 'expired'
RETURN c {.*} AS command
