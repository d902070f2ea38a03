// Every audit entry with the key of the node it is linked to, oldest first.
MATCH (a:AuditEntry)
OPTIONAL MATCH (a)-[:ON]->(n)
RETURN a.id AS id, a.actor AS actor, a.action AS action, a.target AS target,
       a.before AS before, a.after AS after, toString(a.at) AS at,
       labels(n)[0] AS on_label, coalesce(n.id, n.name) AS on_key
ORDER BY a.at, a.id
