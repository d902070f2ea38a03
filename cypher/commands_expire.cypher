// Commands nobody finished in time become expired, with the reason: open ones
// (pending/delivered) past their expires_at, and acknowledged ones whose executor reported
// no outcome within the lease ($ack_lease_s after acknowledged_at: it went silent). Safe
// to run on every replica at once: each node is write-locked (in seq order, like
// commands_mark_delivered, so two replicas never lock the same nodes crosswise) before
// its state is read again, so a command acknowledged or settled meanwhile (or expired by
// another replica) is left alone.
CALL () {
  MATCH (c:Command)
  WHERE c.state IN ['pending', 'delivered'] AND c.expires_at <= datetime($now)
  RETURN c
  UNION
  MATCH (c:Command)
  WHERE c.state = 'acknowledged'
    AND c.acknowledged_at <= datetime($now) - duration({milliseconds: toInteger($ack_lease_s * 1000)})
  RETURN c
}
WITH c
ORDER BY c.seq
LIMIT $limit
SET c._lock = true
REMOVE c._lock
WITH c
WHERE c.state IN ['pending', 'delivered']
   OR (c.state = 'acknowledged'
       AND c.acknowledged_at <= datetime($now) - duration({milliseconds: toInteger($ack_lease_s * 1000)}))
SET c.state_reason = CASE c.state
      WHEN 'pending' THEN 'expired: no executor of pipeline ' + c.pipeline + ' received it within ' + toString($ttl_s) + ' s'
      WHEN 'delivered' THEN 'expired: delivered but no executor acknowledged it within ' + toString($ttl_s) + ' s'
      ELSE 'expired: executor ' + coalesce("'" + c.executor + "'", 'unknown') + ' acknowledged it but reported no outcome within ' + toString($ack_lease_s) + ' s (the executor went silent)' END,
    c.finished_at = datetime($now),
    c.state = 'expired'
RETURN c {.*} AS command
