// An executor takes a command on (the first acknowledgement is the claim). Locked before
// the state is read, so two executors (or an expiry) racing on any replicas are decided
// once. Returns the state before, who held it, and the command after.
MATCH (c:Command {id: $id})
SET c._lock = true
REMOVE c._lock
WITH c, c.state AS before, c.executor AS holder
WITH c, before, holder, before IN ['pending', 'delivered'] AS takes
SET c.state = CASE WHEN takes THEN 'acknowledged' ELSE c.state END,
    c.acknowledged_at = CASE WHEN takes THEN datetime($now) ELSE c.acknowledged_at END,
    c.acknowledged_by = CASE WHEN takes THEN $actor ELSE c.acknowledged_by END,
    c.executor = CASE WHEN takes THEN $executor ELSE c.executor END,
    c.delivered_at = CASE WHEN takes THEN coalesce(c.delivered_at, datetime($now))
                          ELSE c.delivered_at END
RETURN before, holder, c {.*} AS command
