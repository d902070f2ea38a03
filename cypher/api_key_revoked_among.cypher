// Which of these key ids no longer authenticate (revoked or deleted): open WebSocket
// sessions re-check their keys with this, one read per replica per round.
UNWIND $ids AS id
OPTIONAL MATCH (k:ApiKey {id: id})
WITH id, k
WHERE k IS NULL OR k.revoked_at IS NOT NULL
RETURN id
