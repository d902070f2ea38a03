// The first revocation stands; `changed` says whether this call revoked it.
MATCH (k:ApiKey {id: $id})
WITH k, k.revoked_at IS NULL AS changed
SET k.revoked_at = coalesce(k.revoked_at, datetime($at)),
    k.revoked_by = coalesce(k.revoked_by, $actor)
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.created_at) AS created_at,
       k.created_by AS created_by, toString(k.revoked_at) AS revoked_at,
       k.revoked_by AS revoked_by, toString(k.last_used_at) AS last_used_at,
       k.scopes AS scopes, changed
