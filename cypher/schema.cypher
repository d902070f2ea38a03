// Constraints and indexes, applied idempotently at startup. One statement per ';'.
CREATE CONSTRAINT pipeline_name IF NOT EXISTS FOR (n:Pipeline) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT step_id IF NOT EXISTS FOR (n:Step) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT run_id IF NOT EXISTS FOR (n:Run) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT step_run_id IF NOT EXISTS FOR (n:StepRun) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT llm_call_id IF NOT EXISTS FOR (n:LLMCall) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT prompt_version_id IF NOT EXISTS FOR (n:PromptVersion) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT model_id IF NOT EXISTS FOR (n:Model) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT artifact_uri IF NOT EXISTS FOR (n:Artifact) REQUIRE n.uri IS UNIQUE;
CREATE CONSTRAINT artifact_version_id IF NOT EXISTS FOR (n:ArtifactVersion) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT owner_id IF NOT EXISTS FOR (n:Owner) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT sla_id IF NOT EXISTS FOR (n:SLA) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT sla_breach_id IF NOT EXISTS FOR (n:SLABreach) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (n:Event) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT event_seq IF NOT EXISTS FOR (n:Event) REQUIRE n.seq IS UNIQUE;
CREATE CONSTRAINT quarantined_id IF NOT EXISTS FOR (n:Quarantined) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT audit_entry_id IF NOT EXISTS FOR (n:AuditEntry) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT redaction_policy_id IF NOT EXISTS FOR (n:RedactionPolicy) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT api_key_name IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT auth_bootstrap_id IF NOT EXISTS FOR (n:AuthBootstrap) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT sequence_name IF NOT EXISTS FOR (n:Sequence) REQUIRE n.name IS UNIQUE;
CREATE INDEX run_status IF NOT EXISTS FOR (n:Run) ON (n.status);
CREATE INDEX run_pipeline_started IF NOT EXISTS FOR (n:Run) ON (n.pipeline, n.started_at);
CREATE INDEX run_order IF NOT EXISTS FOR (n:Run) ON (n.order_key);
CREATE INDEX run_pipeline_order IF NOT EXISTS FOR (n:Run) ON (n.pipeline, n.order_key);
CREATE INDEX step_run_run IF NOT EXISTS FOR (n:StepRun) ON (n.run);
CREATE INDEX llm_call_run IF NOT EXISTS FOR (n:LLMCall) ON (n.run);
CREATE INDEX llm_call_step_run IF NOT EXISTS FOR (n:LLMCall) ON (n.step_run);
CREATE INDEX quarantined_received IF NOT EXISTS FOR (n:Quarantined) ON (n.received_at);
// Metrics and SLA evaluation: time ranges per pipeline/step/model, open work by status.
CREATE INDEX run_started IF NOT EXISTS FOR (n:Run) ON (n.started_at);
CREATE INDEX run_pipeline_ended IF NOT EXISTS FOR (n:Run) ON (n.pipeline, n.ended_at);
// Missing scheduled runs: the starts and schedules of one pipeline's runs since a horizon.
CREATE INDEX run_pipeline_started IF NOT EXISTS FOR (n:Run) ON (n.pipeline, n.started_at);
CREATE INDEX run_pipeline_scheduled IF NOT EXISTS FOR (n:Run) ON (n.pipeline, n.scheduled_for);
CREATE INDEX step_run_status IF NOT EXISTS FOR (n:StepRun) ON (n.status);
CREATE INDEX step_run_started IF NOT EXISTS FOR (n:StepRun) ON (n.started_at);
CREATE INDEX step_run_pipeline_started IF NOT EXISTS FOR (n:StepRun) ON (n.pipeline, n.started_at);
CREATE INDEX step_run_pipeline_step_ended IF NOT EXISTS FOR (n:StepRun) ON (n.pipeline, n.step, n.ended_at);
CREATE INDEX llm_call_received IF NOT EXISTS FOR (n:LLMCall) ON (n.received_at);
CREATE INDEX llm_call_pipeline_received IF NOT EXISTS FOR (n:LLMCall) ON (n.pipeline, n.received_at);
CREATE INDEX llm_call_provider_received IF NOT EXISTS FOR (n:LLMCall) ON (n.provider, n.received_at);
CREATE INDEX event_pipeline_time IF NOT EXISTS FOR (n:Event) ON (n.pipeline, n.time);
CREATE INDEX event_time IF NOT EXISTS FOR (n:Event) ON (n.time);
CREATE INDEX sla_breach_at IF NOT EXISTS FOR (n:SLABreach) ON (n.at);
CREATE INDEX sla_breach_pipeline IF NOT EXISTS FOR (n:SLABreach) ON (n.pipeline);
// The audit trail: newest first, alone or after an equality on actor, target or action.
CREATE INDEX audit_entry_order IF NOT EXISTS FOR (n:AuditEntry) ON (n.order_key);
CREATE INDEX audit_entry_actor IF NOT EXISTS FOR (n:AuditEntry) ON (n.actor, n.order_key);
CREATE INDEX audit_entry_target IF NOT EXISTS FOR (n:AuditEntry) ON (n.target, n.order_key);
CREATE INDEX audit_entry_action IF NOT EXISTS FOR (n:AuditEntry) ON (n.action, n.order_key);
// Indexes no query uses cost a write on every event: drop them where older versions made them.
DROP INDEX event_type IF EXISTS;
DROP INDEX event_run IF EXISTS;
DROP INDEX event_pipeline IF EXISTS;
// Commands (issue 18): by id, by seq (the delivery tailer), by idempotency scope, per
// pipeline in seq order (executors' resume), open ones by expiry time, and acknowledged
// ones by acknowledgement time (the lease: commands_expire).
CREATE CONSTRAINT command_id IF NOT EXISTS FOR (n:Command) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT command_seq IF NOT EXISTS FOR (n:Command) REQUIRE n.seq IS UNIQUE;
CREATE CONSTRAINT command_scope IF NOT EXISTS FOR (n:Command) REQUIRE n.scope IS UNIQUE;
CREATE INDEX command_pipeline_seq IF NOT EXISTS FOR (n:Command) ON (n.pipeline, n.seq);
CREATE INDEX command_state_expiry IF NOT EXISTS FOR (n:Command) ON (n.state, n.expires_at);
CREATE INDEX command_state_acknowledged IF NOT EXISTS FOR (n:Command) ON (n.state, n.acknowledged_at);
CREATE INDEX command_run IF NOT EXISTS FOR (n:Command) ON (n.run);
// Human approvals inside runs (issue 19): by id; pending ones by deadline (the expiry sweep).
CREATE CONSTRAINT approval_id IF NOT EXISTS FOR (n:Approval) REQUIRE n.id IS UNIQUE;
CREATE INDEX approval_state_deadline IF NOT EXISTS FOR (n:Approval) ON (n.state, n.deadline);
CREATE INDEX approval_run IF NOT EXISTS FOR (n:Approval) ON (n.run);
// The governance gate (docs/governance.md, "The gate"): policies, change requests, and a
// pipeline's definition versions read straight from its pipeline.defined events.
CREATE CONSTRAINT gate_policy_id IF NOT EXISTS FOR (n:GatePolicy) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT change_request_id IF NOT EXISTS FOR (n:ChangeRequest) REQUIRE n.id IS UNIQUE;
CREATE INDEX change_request_state_seq IF NOT EXISTS FOR (n:ChangeRequest) ON (n.state, n.requested_seq);
CREATE INDEX change_request_pipeline_seq IF NOT EXISTS FOR (n:ChangeRequest) ON (n.pipeline, n.applied_seq);
CREATE INDEX event_type_pipeline IF NOT EXISTS FOR (n:Event) ON (n.type, n.pipeline);
// Several replicas (issue 20): the breach/alert relay between live hubs, tailed by seq,
// and the leases of the background duties, one node per duty.
CREATE CONSTRAINT live_note_seq IF NOT EXISTS FOR (n:LiveNote) REQUIRE n.seq IS UNIQUE;
CREATE CONSTRAINT lease_name IF NOT EXISTS FOR (n:Lease) REQUIRE n.name IS UNIQUE;
// Columns (issue 22, docs/columns.md): fields of artifact versions (key: version id +
// '#' + name), the schema change a version made, and the marker of its alert (MERGEd by
// the transaction that found a breaking change: the replica whose MERGE created it sends).
CREATE CONSTRAINT field_id IF NOT EXISTS FOR (n:Field) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT schema_change_id IF NOT EXISTS FOR (n:SchemaChange) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT schema_alert_id IF NOT EXISTS FOR (n:SchemaAlert) REQUIRE n.id IS UNIQUE;
// Retention (docs/retention.md): the range scans of a pass, oldest first — events by
// arrival, LLM calls by when they were sent (answered-only ones: llm_call_received),
// finished runs by their end.
CREATE INDEX event_received IF NOT EXISTS FOR (n:Event) ON (n.received_at);
CREATE INDEX llm_call_sent IF NOT EXISTS FOR (n:LLMCall) ON (n.sent_at);
CREATE INDEX run_ended IF NOT EXISTS FOR (n:Run) ON (n.ended_at);
// Metric rollups (issue 21, store/rollups.py): buckets by their key (each carries its
// latency sketch as lists); read by pipeline, level and time range, or by kind, level
// and time range (a read without a pipeline, the header's "today" figures). One index
// fewer to maintain on every bucket write: (level, t) went, reads seek per kind.
CREATE CONSTRAINT rollup_key IF NOT EXISTS FOR (n:Rollup) REQUIRE n.k IS UNIQUE;
DROP INDEX rollup_level_time IF EXISTS;
CREATE INDEX rollup_pipeline_level_time IF NOT EXISTS FOR (n:Rollup) ON (n.pipeline, n.level, n.t);
CREATE INDEX rollup_kind_level_time IF NOT EXISTS FOR (n:Rollup) ON (n.kind, n.level, n.t);
CREATE CONSTRAINT rollup_state_name IF NOT EXISTS FOR (n:RollupState) REQUIRE n.name IS UNIQUE;
