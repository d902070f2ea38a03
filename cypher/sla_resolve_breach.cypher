// The first resolution stands (resolving twice changes nothing).
MATCH (b:SLABreach {id: $id})
SET b.resolved_by = coalesce(b.resolved_by, $by),
    b.resolved_at = coalesce(b.resolved_at, datetime({epochMillis: $now_ms}))
RETURN b.id AS id
