// last_used_at only moves forward (touches from several replicas may cross).
UNWIND $rows AS row
MATCH (k:ApiKey {id: row.id})
WITH k, datetime(row.at) AS at
WHERE k.last_used_at IS NULL OR k.last_used_at < at
SET k.last_used_at = at
