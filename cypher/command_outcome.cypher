// An executor reports how a command ended: done or rejected, with a reason (and the run a
// start or retry launched). From an open state, or acknowledged by the same executor AND
// the same principal (the executor id is only what the client says; acknowledged_by is
// who signed in). The caller decides from `before` and `holder` (read after the lock) and
// the command's acknowledged_by what it was.
MATCH (c:Command {id: $id})
SET c._lock = true
REMOVE c._lock
WITH c, c.state AS before, c.executor AS holder
WITH c, before, holder,
     before IN ['pending', 'delivered']
       OR (before = 'acknowledged' AND holder = $executor AND c.acknowledged_by = $actor)
       AS settles
SET c.state_reason = CASE WHEN settles THEN $reason ELSE c.state_reason END,
    c.result_run = CASE WHEN settles THEN coalesce($run, c.result_run) ELSE c.result_run END,
    c.executor = CASE WHEN settles THEN coalesce(c.executor, $executor) ELSE c.executor END,
    c.acknowledged_by = CASE WHEN settles THEN coalesce(c.acknowledged_by, $actor)
                             ELSE c.acknowledged_by END,
    c.finished_at = CASE WHEN settles THEN datetime($now) ELSE c.finished_at END,
    c.state = CASE WHEN settles THEN $outcome ELSE c.state END
RETURN before, holder, c {.*} AS command
