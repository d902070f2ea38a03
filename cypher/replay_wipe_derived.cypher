// Replay: delete the graph derived from the event log, never the log itself. Kept: the
// log (Event) and its counter (Sequence), the quarantine (not in the log), the replay's
// own progress (ReplayState), and what is not built from events at all: API keys, the
// auth bootstrap marker, the redaction policy and the audit trail (definition entries
// are re-merged on their ids by the replay). Idempotent, in small transactions: a replay
// killed midway runs it again from the start. Relationships first (a Model used by
// every call must never be detached at once); among kept nodes only the events' ABOUT
// edges go (they point at derived runs and pipelines, which the replay recreates).
// Commands (issue 18) are not built from events either: kept, with their run and
// pipeline as properties (their TARGETS/FOR edges go with the derived nodes and are
// made again at the end of the replay: replay_command_links). Nor are the leases of
// background duties (issue 20), held by running replicas: kept. Schema alerts' markers
// (issue 22) say an alert was sent: kept, so a replay sends none again.
// The metric rollups
// (Rollup) go with the graph they sum and the replay adds them up again; their
// completeness marker (RollupState) stays, as the replay keeps them complete.
MATCH (a)-[r]->(b)
WHERE NOT ((a:ApiKey OR a:AuthBootstrap OR a:RedactionPolicy OR a:AuditEntry)
       AND (b:ApiKey OR b:AuthBootstrap OR b:RedactionPolicy OR b:AuditEntry))
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
WITH count(*) AS relationships
MATCH (n)
WHERE NOT (n:ApiKey OR n:AuthBootstrap OR n:RedactionPolicy OR n:AuditEntry
           OR n:Event OR n:Sequence OR n:Quarantined OR n:ReplayState OR n:Command
           OR n:Lease OR n:SchemaAlert OR n:RollupState)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
