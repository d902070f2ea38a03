MATCH (k:ApiKey {id: $id})
RETURN k.id AS id, k.name AS name, k.role AS role, k.hash AS hash,
       k.revoked_at IS NOT NULL AS revoked, k.scopes AS scopes
