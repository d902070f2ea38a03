// Audit entries of the redaction policy, oldest first.
MATCH (a:AuditEntry {target: 'policy:redaction'})
RETURN a.actor AS actor, a.action AS action, a.before AS before, a.after AS after
ORDER BY a.at
