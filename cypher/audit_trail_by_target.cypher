// The audit trail of one target newest first: a seek on the (target, order_key) index, walked
// backwards from $upper (exclusive) to $lower (inclusive), the other filters applied.
// Ordering by target too (a constant here) is what lets the planner take the index order.
// The hint keeps the seek when statistics are small or stale (a scan would read all).
MATCH (a:AuditEntry)
USING INDEX a:AuditEntry(target, order_key)
WHERE a.target = $target AND a.order_key < $upper AND a.order_key >= $lower
  AND ($actor IS NULL OR a.actor = $actor)
  AND ($action IS NULL OR a.action = $action)
WITH a ORDER BY a.target DESC, a.order_key DESC LIMIT $limit
RETURN a {.id, .actor, .action, .target, .before, .after, .order_key, at: toString(a.at)} AS a
