// The audit trail newest first, walking the order_key index backwards from $upper
// (exclusive) down to $lower (inclusive); the other filters are null here.
// The hint keeps the seek when statistics are small or stale (a scan would read all).
MATCH (a:AuditEntry)
USING INDEX a:AuditEntry(order_key)
WHERE a.order_key < $upper AND a.order_key >= $lower
WITH a ORDER BY a.order_key DESC LIMIT $limit
RETURN a {.id, .actor, .action, .target, .before, .after, .order_key, at: toString(a.at)} AS a
