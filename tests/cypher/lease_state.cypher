// A lease's holder and token (tests of leases: who runs a duty).
MATCH (l:Lease {name: $lease})
RETURN l.holder AS holder, l.token AS token
