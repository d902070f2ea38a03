MATCH (k:ApiKey)
WHERE $include_revoked OR k.revoked_at IS NULL
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.created_at) AS created_at,
       k.created_by AS created_by, toString(k.revoked_at) AS revoked_at,
       k.revoked_by AS revoked_by, toString(k.last_used_at) AS last_used_at,
       k.scopes AS scopes
ORDER BY k.created_at, k.id
