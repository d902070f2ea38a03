// Take or renew a background duty's lease (issue 20: one replica runs each duty). The
// holder renews its own lease (token unchanged) whether or not it ran out, as long as
// no other replica took it over meanwhile; anyone takes a lease that ran out, and then
// the token grows: writes fenced with an older token are refused from then on.
// Times are the database's clock, the one clock every replica shares.
MERGE (l:Lease {name: $name})
  ON CREATE SET l.token = 0
WITH l,
     l.holder = $holder AND l.token = $token AS mine,
     l.holder IS NULL OR l.expires_at IS NULL OR l.expires_at <= datetime() AS free
WITH l, mine, free AND NOT coalesce(mine, false) AS takeover
SET l.token = CASE WHEN takeover THEN l.token + 1 ELSE l.token END,
    l.holder = CASE WHEN takeover OR mine THEN $holder ELSE l.holder END,
    l.expires_at = CASE WHEN takeover OR mine
                        THEN datetime() + duration({milliseconds: $ttl_ms})
                        ELSE l.expires_at END
RETURN l.holder = $holder AS held, l.token AS token
