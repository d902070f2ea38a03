// The first acknowledgement stands (acknowledging twice changes nothing).
MATCH (b:SLABreach {id: $id})
SET b.acknowledged_by = coalesce(b.acknowledged_by, $by),
    b.acknowledged_at = coalesce(b.acknowledged_at, datetime({epochMillis: $now_ms}))
RETURN b.id AS id
