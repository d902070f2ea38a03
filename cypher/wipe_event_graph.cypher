// Tests: delete the graph built from events, the event log included, keeping what events
// do not build: API keys, the auth bootstrap marker, the redaction policy, the audit
// trail and the leases of background duties (a running replica holds one). (Replay
// keeps the log: it uses replay_wipe_derived.) Relationships first, in small
// transactions (a Model used by every call must never be detached at once).
MATCH (a)-[r]->(b)
WHERE NOT ((a:ApiKey OR a:AuthBootstrap OR a:RedactionPolicy OR a:AuditEntry)
       AND (b:ApiKey OR b:AuthBootstrap OR b:RedactionPolicy OR b:AuditEntry))
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
WITH count(*) AS relationships
MATCH (n)
WHERE NOT (n:ApiKey OR n:AuthBootstrap OR n:RedactionPolicy OR n:AuditEntry OR n:Lease)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
