// A new API key; only the hash of its secret is stored. Names are unique (constraint).
// $scopes: the pipeline patterns it may write events for (null: any pipeline).
CREATE (k:ApiKey {
  id: $id, name: $name, role: $role, hash: $hash, scopes: $scopes,
  created_at: datetime($at), created_by: $actor
})
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.created_at) AS created_at,
       k.created_by AS created_by, null AS revoked_at, null AS revoked_by,
       null AS last_used_at, k.scopes AS scopes
