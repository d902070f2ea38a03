// The audit trail of one action newest first: a seek on the (action, order_key) index, walked
// backwards from $upper (exclusive) to $lower (inclusive), the other filters applied.
// Ordering by action too (a constant here) is what lets the planner take the index order.
// The hint keeps the seek when statistics are small or stale (a scan would read all).
MATCH (a:AuditEntry)
USING INDEX a:AuditEntry(action, order_key)
WHERE a.action = $action AND a.order_key < $upper AND a.order_key >= $lower
  AND ($actor IS NULL OR a.actor = $actor)
  AND ($target IS NULL OR a.target = $target)
WITH a ORDER BY a.action DESC, a.order_key DESC LIMIT $limit
RETURN a {.id, .actor, .action, .target, .before, .after, .order_key, at: toString(a.at)} AS a
