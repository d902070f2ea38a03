// Give a lease up (a replica stopping): the next replica takes it at its next try
// instead of after the lease time. Only the current holder with the current token can.
MATCH (l:Lease {name: $name})
WHERE l.holder = $holder AND l.token = $token
SET l.holder = null, l.expires_at = null
RETURN l.token AS token
