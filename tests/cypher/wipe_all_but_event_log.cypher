// Test only: leave the event log alone (Event nodes, their Sequence counter) and the API
// keys the running test service authenticates with; everything else goes: the derived
// graph, the redaction policy, the audit trail, the quarantine. What a rebuild "from the
// log alone" starts from. Relationships first, in small transactions.
MATCH (a)-[r]->(b)
WHERE NOT ((a:ApiKey OR a:AuthBootstrap) AND (b:ApiKey OR b:AuthBootstrap))
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
WITH count(*) AS relationships
MATCH (n)
WHERE NOT (n:Event OR n:Sequence OR n:ApiKey OR n:AuthBootstrap)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
