// One batch of sequenced events, applied in a single statement (one round trip, not
// one per family): the event log, then each family of rows in this order. Later blocks
// read what earlier ones wrote (a prompt MATCHes the step run written above; totals sum
// the calls just priced), which Cypher guarantees between the clauses of a statement.
// $batch maps each block's name to its rows, an empty list when the batch has none.
// One map rather than a parameter per block: the plan cache keys on parameter types,
// and an empty list types differently from a list of maps, so separate lists would
// plan this statement (about a second) once per combination of empty blocks.
// Pipeline definitions go first, in apply_pipeline_defined; graph_rows.plan_statements
// builds $batch (one row per entity: it folds a batch's rows first).

// -- events: the event log -----------------------------------------------------------
CALL () {
  // Append-only; each event points at the run (or else the pipeline) it is about.
  UNWIND $batch.events AS row
  CREATE (e:Event {
    id: row.id, seq: row.seq, type: row.type, time: datetime(row.time), received_at: datetime(row.received_at),
    source: row.source, pipeline: row.pipeline, run: row.run, step: row.step,
    attempt: row.attempt, payload: row.payload, fingerprint: row.fingerprint,
    principal: row.principal, redactions: row.redactions, redaction_kinds: row.redaction_kinds,
    // Counted in the metric rollups by this same transaction (rollup_touched's
    // new_events); events logged any other way are counted (and marked) when derived.
    rolled: true
  })
  FOREACH (_ IN CASE WHEN row.run IS NOT NULL THEN [1] ELSE [] END |
    MERGE (r:Run {id: row.run})
      // newest-first paging key (start, else schedule time, then id; indexed): a run
      // seen first through any event pages as time 0 until its run.* events say better
      ON CREATE SET r.order_key = '0000000000000|' + row.run
    // CREATE, not MERGE: the event is new, so is its edge (a MERGE would scan the
    // run's edges for it, and a busy run has thousands).
    CREATE (e)-[:ABOUT]->(r)
    // Versions count the batch's new events per entity (docs/live-deltas.md): the
    // first row of each run carries its count and highest seq, so a run is written
    // once per batch, not once per event (graph_rows.count_versions).
    FOREACH (_ IN CASE WHEN row.run_n > 0 THEN [1] ELSE [] END |
      SET r.version = coalesce(r.version, 0) + row.run_n,
          r.seq = CASE WHEN coalesce(r.seq, 0) > row.run_seq THEN r.seq ELSE row.run_seq END))
  FOREACH (_ IN CASE WHEN row.run IS NULL AND row.pipeline IS NOT NULL THEN [1] ELSE [] END |
    MERGE (p:Pipeline {name: row.pipeline})
    CREATE (e)-[:ABOUT]->(p))
  // The pipeline card's version: every new event of the pipeline (any run, definitions).
  FOREACH (_ IN CASE WHEN row.pipeline_n > 0 THEN [1] ELSE [] END |
    MERGE (p:Pipeline {name: row.pipeline})
    SET p.card_version = coalesce(p.card_version, 0) + row.pipeline_n,
        p.card_seq = CASE WHEN coalesce(p.card_seq, 0) > row.pipeline_seq THEN p.card_seq ELSE row.pipeline_seq END)
}
// -- runs: run.* events --------------------------------------------------------------
CALL () {
  // run.* events. Status only moves forward (rank: scheduled 0, running 1, terminal 2);
  // between terminal events the later time wins, ties to the later seq.
  UNWIND $batch.runs AS row
  MERGE (p:Pipeline {name: row.pipeline})
  MERGE (r:Run {id: row.run})
  MERGE (r)-[:OF]->(p)
  WITH r, row, coalesce(r.status_rank, -1) AS current_rank
  WITH r, row, current_rank,
       CASE
         WHEN row.rank < 2 THEN row.rank > current_rank
         ELSE current_rank < 2
           OR datetime(row.time) > r.terminal_time
           OR (datetime(row.time) = r.terminal_time AND row.seq > r.terminal_seq)
       END AS wins
  SET r.pipeline = row.pipeline,
      // A paused run that (re)gets a rank-1 event stays paused (the pauses block).
      r.status = CASE WHEN NOT wins THEN r.status
                      WHEN row.rank = 1 AND coalesce(r.paused, false) THEN 'paused'
                      ELSE row.status END,
      r.status_rank = CASE WHEN wins THEN row.rank ELSE current_rank END,
      r.terminal_time = CASE WHEN wins AND row.rank = 2 THEN datetime(row.time) ELSE r.terminal_time END,
      r.terminal_seq = CASE WHEN wins AND row.rank = 2 THEN row.seq ELSE r.terminal_seq END,
      r.ended_at = CASE WHEN wins AND row.rank = 2 THEN datetime(row.time) ELSE r.ended_at END,
      r.error = CASE WHEN wins AND row.rank = 2 THEN row.error ELSE r.error END,
      r.error_type = CASE WHEN wins AND row.rank = 2 THEN row.error_type ELSE r.error_type END,
      r.outputs = CASE WHEN wins AND row.rank = 2 THEN row.outputs ELSE r.outputs END,
      r.cancel_reason = CASE WHEN wins AND row.rank = 2 THEN row.reason ELSE r.cancel_reason END,
      r.scheduled_for = coalesce(datetime(row.scheduled_for), r.scheduled_for),
      r.started_at = CASE
        WHEN datetime(row.started_at) IS NOT NULL AND (r.started_at IS NULL OR datetime(row.started_at) < r.started_at)
        THEN datetime(row.started_at) ELSE r.started_at END,
      r.trigger = coalesce(row.trigger, r.trigger),
      r.triggered_by = coalesce(row.triggered_by, r.triggered_by),
      r.params = coalesce(row.params, r.params),
      r.pipeline_version = coalesce(row.pipeline_version, r.pipeline_version)
  SET r.order_key = right('0000000000000' + toString(coalesce(r.started_at.epochMillis, r.scheduled_for.epochMillis, 0)), 13) + '|' + r.id,
      r.duration_ms = CASE
    WHEN r.started_at IS NOT NULL AND r.ended_at IS NOT NULL
    THEN r.ended_at.epochMillis - r.started_at.epochMillis END
}
// -- pauses: run.paused / run.resumed ------------------------------------------------
CALL () {
  // Whether a run is paused: the latest pause/resume by (time, seq) wins (one row per run,
  // graph_rows folds a batch's first). Only a running run shows it in its status ('paused'
  // is rank 1, like 'running'); a terminal status is never moved back.
  UNWIND $batch.pauses AS row
  MERGE (p:Pipeline {name: row.pipeline})
  MERGE (r:Run {id: row.run})
    ON CREATE SET r.order_key = '0000000000000|' + row.run
  MERGE (r)-[:OF]->(p)
  WITH r, row
  WHERE r.pause_time IS NULL OR datetime(row.time) > r.pause_time
     OR (datetime(row.time) = r.pause_time AND row.seq > r.pause_seq)
  WITH r, row, coalesce(r.status_rank, -1) AS rank0
  SET r.pipeline = row.pipeline,
      r.paused = row.paused,
      r.pause_time = datetime(row.time),
      r.pause_seq = row.seq,
      r.pause_reason = CASE WHEN row.paused THEN row.reason END,
      r.pause_command = row.command,
      r.status_rank = CASE WHEN rank0 < 1 THEN 1 ELSE rank0 END,
      r.status = CASE WHEN rank0 <= 1 THEN CASE WHEN row.paused THEN 'paused' ELSE 'running' END
                      ELSE r.status END
}
// -- steps: step runs ----------------------------------------------------------------
CALL () {
  // step.* events and every other event that happens inside a step run (artifact, prompt,
  // response, progress): the step run and its run are created on the spot if unseen, and
  // at least 'running' once anything happened inside them. Same status rules as runs.
  // One row per step run: graph_rows folds a batch's events first.
  UNWIND $batch.steps AS row
  MERGE (p:Pipeline {name: row.pipeline})
  MERGE (r:Run {id: row.run})
  MERGE (r)-[:OF]->(p)
  // Write the run only when something changes: most events find it running already, and
  // an untouched run is neither locked longer nor re-indexed.
  FOREACH (_ IN CASE WHEN r.pipeline IS NULL OR coalesce(r.status_rank, -1) < 1 THEN [1] ELSE [] END |
    SET r.pipeline = row.pipeline,
        r.status = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 'running' ELSE r.status END,
        r.status_rank = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 1 ELSE r.status_rank END)
  MERGE (s:Step {id: row.step_id})
    ON CREATE SET s.key = row.step, s.pipeline = row.pipeline
  MERGE (sr:StepRun {id: row.id})
    ON CREATE SET sr.run = row.run, sr.step = row.step, sr.attempt = row.attempt,
                  sr.pipeline = row.pipeline
  MERGE (r)-[:HAS]->(sr)
  MERGE (sr)-[:OF]->(s)
  WITH sr, row, coalesce(sr.status_rank, -1) AS current_rank
  WITH sr, row, current_rank,
       CASE
         WHEN row.rank < 2 THEN row.rank > current_rank
         ELSE current_rank < 2
           OR datetime(row.time) > sr.terminal_time
           OR (datetime(row.time) = sr.terminal_time AND row.seq > sr.terminal_seq)
       END AS wins
  // row.events: the batch's new events of this step run (0 for those a replay re-applies
  // that were counted when they were ingested).
  SET sr.version = coalesce(sr.version, 0) + row.events,
      sr.status = CASE WHEN wins THEN row.status ELSE sr.status END,
      sr.status_rank = CASE WHEN wins THEN row.rank ELSE current_rank END,
      sr.terminal_time = CASE WHEN wins AND row.rank = 2 THEN datetime(row.time) ELSE sr.terminal_time END,
      sr.terminal_seq = CASE WHEN wins AND row.rank = 2 THEN row.seq ELSE sr.terminal_seq END,
      sr.ended_at = CASE WHEN wins AND row.rank = 2 THEN datetime(row.time) ELSE sr.ended_at END,
      sr.error = CASE WHEN wins AND row.rank = 2 THEN row.error ELSE sr.error END,
      sr.error_type = CASE WHEN wins AND row.rank = 2 THEN row.error_type ELSE sr.error_type END,
      sr.retryable = CASE WHEN wins AND row.rank = 2 THEN row.retryable ELSE sr.retryable END,
      sr.skip_reason = CASE WHEN wins AND row.rank = 2 THEN row.reason ELSE sr.skip_reason END,
      sr.outputs = CASE WHEN wins AND row.rank = 2 THEN row.outputs ELSE sr.outputs END,
      sr.scheduled_for = coalesce(datetime(row.scheduled_for), sr.scheduled_for),
      sr.started_at = CASE
        WHEN datetime(row.started_at) IS NOT NULL AND (sr.started_at IS NULL OR datetime(row.started_at) < sr.started_at)
        THEN datetime(row.started_at) ELSE sr.started_at END,
      sr.provider = coalesce(row.provider, sr.provider),
      sr.model = coalesce(row.model, sr.model),
      sr.params = coalesce(row.params, sr.params),
      sr.token_budget = coalesce(row.token_budget, sr.token_budget),
      // progress figures only grow, so any arrival order gives the same answer
      sr.percent = CASE
        WHEN row.percent IS NOT NULL AND (sr.percent IS NULL OR row.percent > sr.percent)
        THEN row.percent ELSE sr.percent END,
      sr.reported_tokens = CASE
        WHEN row.tokens_used IS NOT NULL
          AND (sr.reported_tokens IS NULL OR row.tokens_used > sr.reported_tokens)
        THEN row.tokens_used ELSE sr.reported_tokens END,
      sr.items_done = CASE
        WHEN row.items_done IS NOT NULL AND (sr.items_done IS NULL OR row.items_done > sr.items_done)
        THEN row.items_done ELSE sr.items_done END,
      sr.items_total = coalesce(row.items_total, sr.items_total),
      sr.progress_message = CASE
        WHEN row.message IS NOT NULL
          AND (sr.progress_time IS NULL OR datetime(row.message_time) > sr.progress_time
               OR (datetime(row.message_time) = sr.progress_time AND row.message_seq > sr.progress_seq))
        THEN row.message ELSE sr.progress_message END,
      sr.progress_seq = CASE
        WHEN row.message IS NOT NULL
          AND (sr.progress_time IS NULL OR datetime(row.message_time) > sr.progress_time
               OR (datetime(row.message_time) = sr.progress_time AND row.message_seq > sr.progress_seq))
        THEN row.message_seq ELSE sr.progress_seq END,
      sr.progress_time = CASE
        WHEN row.message IS NOT NULL
          AND (sr.progress_time IS NULL OR datetime(row.message_time) > sr.progress_time)
        THEN datetime(row.message_time) ELSE sr.progress_time END
  SET sr.duration_ms = CASE
        WHEN sr.started_at IS NOT NULL AND sr.ended_at IS NOT NULL
        THEN sr.ended_at.epochMillis - sr.started_at.epochMillis END,
      sr.percent = CASE WHEN sr.status = 'succeeded' THEN 100.0 ELSE sr.percent END
}
// -- approvals: approval.requested / granted / denied / expired (issue 19) -----------
CALL () {
  // The Approval node of a step run (ASKED), one row per approval (graph_rows folds a
  // batch's first). Its decision is written once: the first one by seq (the log holds
  // one decision per approval: they share an event id). The step run shows the approval
  // it waits for (awaiting_approval) while it is pending; its status is not changed.
  UNWIND $batch.approvals AS row
  MATCH (sr:StepRun {id: row.step_run})
  MERGE (a:Approval {id: row.id})
    ON CREATE SET a.state = 'pending'
  MERGE (sr)-[:ASKED]->(a)
  WITH sr, a, row, row.decision IS NOT NULL AND a.decision_seq IS NULL AS decides
  SET a.pipeline = row.pipeline, a.run = row.run, a.step = row.step,
      a.attempt = row.attempt, a.step_run = row.step_run,
      a.question = coalesce(row.question, a.question),
      a.approvers = coalesce(row.approvers, a.approvers),
      a.timeout_s = coalesce(row.timeout_s, a.timeout_s),
      a.requested_at = coalesce(datetime(row.requested_at), a.requested_at),
      a.deadline = coalesce(datetime(row.deadline), a.deadline),
      a.request_seq = coalesce(row.request_seq, a.request_seq),
      a.state = CASE WHEN decides THEN row.decision ELSE a.state END,
      a.decided_at = CASE WHEN decides THEN datetime(row.decided_at) ELSE a.decided_at END,
      a.decided_by = CASE WHEN decides THEN row.by ELSE a.decided_by END,
      a.comment = CASE WHEN decides THEN row.comment ELSE a.comment END,
      a.decision_seq = CASE WHEN decides THEN row.decision_seq ELSE a.decision_seq END
  SET a.waiting_ms = CASE WHEN a.decided_at IS NOT NULL AND a.requested_at IS NOT NULL
                          THEN a.decided_at.epochMillis - a.requested_at.epochMillis END,
      sr.awaiting_approval = CASE WHEN a.state = 'pending' THEN a.id
                                  WHEN sr.awaiting_approval = a.id THEN null
                                  ELSE sr.awaiting_approval END
}
// -- touches: runs with run-level activity -------------------------------------------
CALL () {
  // Activity inside a run that names no step (an LLM call or artifact at run level):
  // the run exists, belongs to its pipeline, and is at least running.
  UNWIND $batch.touches AS row
  MERGE (p:Pipeline {name: row.pipeline})
  MERGE (r:Run {id: row.run})
  MERGE (r)-[:OF]->(p)
  // Write the run only when something changes: most events find it running already, and
  // an untouched run is neither locked longer nor re-indexed.
  FOREACH (_ IN CASE WHEN r.pipeline IS NULL OR coalesce(r.status_rank, -1) < 1 THEN [1] ELSE [] END |
    SET r.pipeline = row.pipeline,
        r.status = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 'running' ELSE r.status END,
        r.status_rank = CASE WHEN coalesce(r.status_rank, -1) < 1 THEN 1 ELSE r.status_rank END)
}
// -- prompts: prompt.sent ------------------------------------------------------------
CALL () {
  // The LLM call, its model and prompt version. The step run (if any) was upserted
  // by the $steps block above.
  UNWIND $batch.prompts AS row
  MERGE (c:LLMCall {id: row.id})
  SET c.run = row.run, c.call = row.call,
      c.pipeline = row.pipeline, c.step = coalesce(row.step, c.step),
      c.step_run = coalesce(row.step_run, c.step_run),
      c.provider = row.provider, c.model = row.model,
      c.template = row.template, c.template_version = row.template_version,
      c.prompt = row.prompt, c.prompt_messages = row.prompt_messages, c.variables = row.variables,
      c.prompt_input_tokens = row.input_tokens, c.params = row.params, c.sent_at = datetime(row.time),
      c.input_tokens = coalesce(c.response_input_tokens, row.input_tokens),
      // Redactions at ingest: the prompt's, and the call's (prompt + response; kinds merged).
      c.prompt_redactions = row.redactions, c.prompt_redaction_kinds = row.redaction_kinds,
      c.redactions = row.redactions + coalesce(c.response_redactions, 0),
      c.redaction_kinds = row.redaction_kinds +
        [k IN coalesce(c.response_redaction_kinds, []) WHERE NOT k IN row.redaction_kinds]
  MERGE (m:Model {id: row.model_id})
    ON CREATE SET m.provider = row.provider, m.name = row.model
  MERGE (c)-[:USED_MODEL]->(m)
  FOREACH (pv_id IN CASE WHEN row.prompt_version_id IS NULL THEN [] ELSE [row.prompt_version_id] END |
    MERGE (pv:PromptVersion {id: pv_id})
      ON CREATE SET pv.template = row.template, pv.version = row.template_version
    MERGE (c)-[:USED_PROMPT]->(pv))
  WITH c, row
  CALL (c, row) {
    WITH c, row WHERE row.step_run IS NOT NULL
    MATCH (sr:StepRun {id: row.step_run})
    MERGE (sr)-[:MADE]->(c)
  }
  CALL (c, row) {
    WITH c, row WHERE row.step_run IS NULL
    MATCH (r:Run {id: row.run})
    MERGE (r)-[:MADE]->(c)
  }
}
// -- responses: response.received ----------------------------------------------------
CALL () {
  // Completes the LLM call (created on the spot if the prompt is late).
  UNWIND $batch.responses AS row
  MERGE (c:LLMCall {id: row.id})
  SET c.run = row.run, c.call = row.call,
      c.pipeline = row.pipeline, c.step = coalesce(row.step, c.step),
      c.step_run = coalesce(row.step_run, c.step_run),
      c.response = row.response, c.response_messages = row.response_messages,
      c.response_input_tokens = row.input_tokens,
      c.input_tokens = coalesce(row.input_tokens, c.prompt_input_tokens),
      c.output_tokens = row.output_tokens, c.latency_ms = row.latency_ms,
      c.cost_reported = row.cost_usd, c.finish_reason = row.finish_reason,
      c.error = row.error, c.received_at = datetime(row.time),
      // Redactions at ingest: the response's, and the call's (prompt + response; kinds merged).
      c.response_redactions = row.redactions, c.response_redaction_kinds = row.redaction_kinds,
      c.redactions = coalesce(c.prompt_redactions, 0) + row.redactions,
      c.redaction_kinds = coalesce(c.prompt_redaction_kinds, []) +
        [k IN row.redaction_kinds WHERE NOT k IN coalesce(c.prompt_redaction_kinds, [])]
  WITH c, row
  CALL (c, row) {
    WITH c, row WHERE row.step_run IS NOT NULL
    MATCH (sr:StepRun {id: row.step_run})
    MERGE (sr)-[:MADE]->(c)
  }
  CALL (c, row) {
    WITH c, row WHERE row.step_run IS NULL
    MATCH (r:Run {id: row.run})
    MERGE (r)-[:MADE]->(c)
  }
}
// -- artifact_versions ---------------------------------------------------------------
CALL () {
  // Artifacts and their versions (one row per version; graph_rows folds the batch).
  // What a version holds (hash, size, records, schema) is what its latest write
  // says — or its latest read if it was never seen written — ranked by (written, time,
  // seq), so any arrival order gives the same properties.
  UNWIND $batch.artifact_versions AS row
  WITH row, datetime(row.time) AS time, datetime(row.first_seen) AS first_seen,
       datetime(row.kind_time) AS kind_time
  MERGE (a:Artifact {uri: row.uri})
  SET a.kind = CASE
        WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time
             OR (kind_time = a.kind_time AND row.kind_seq > a.kind_seq))
        THEN row.kind ELSE a.kind END,
      a.kind_seq = CASE
        WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time
             OR (kind_time = a.kind_time AND row.kind_seq > a.kind_seq))
        THEN row.kind_seq ELSE a.kind_seq END,
      a.kind_time = CASE
        WHEN row.kind IS NOT NULL AND (a.kind_time IS NULL OR kind_time > a.kind_time)
        THEN kind_time ELSE a.kind_time END
  MERGE (av:ArtifactVersion {id: row.version_id})
    ON CREATE SET av.uri = row.uri, av.version = row.version, av.first_seen = first_seen
  WITH a, av, row, time, first_seen,
       av.content_time IS NULL
         OR row.written_rank > av.content_written
         OR (row.written_rank = av.content_written AND time > av.content_time)
         OR (row.written_rank = av.content_written AND time = av.content_time
             AND row.seq > av.content_seq) AS newer
  SET av.first_seen = CASE WHEN first_seen < av.first_seen THEN first_seen ELSE av.first_seen END,
      av.hash = CASE WHEN newer THEN row.hash ELSE av.hash END,
      av.size_bytes = CASE WHEN newer THEN row.size_bytes ELSE av.size_bytes END,
      av.records = CASE WHEN newer THEN row.records ELSE av.records END,
      av.schema = CASE WHEN newer THEN row.schema ELSE av.schema END,
      av.content_written = CASE WHEN newer THEN row.written_rank ELSE av.content_written END,
      av.content_time = CASE WHEN newer THEN time ELSE av.content_time END,
      av.content_seq = CASE WHEN newer THEN row.seq ELSE av.content_seq END
  MERGE (av)-[:VERSION_OF]->(a)
  FOREACH (owner IN row.owners |
    MERGE (o:Owner {id: owner.id}) ON CREATE SET o.kind = owner.kind, o.name = owner.name
    MERGE (a)-[:OWNED_BY]->(o))
}
// -- artifact_links: lineage ---------------------------------------------------------
CALL () {
  // Data lineage: which step run (or run, when the event names no step) read or wrote
  // which artifact version.
  UNWIND $batch.artifact_links AS row
  MATCH (av:ArtifactVersion {id: row.version_id})
  CALL (av, row) {
    WITH av, row WHERE row.step_run IS NOT NULL
    MATCH (sr:StepRun {id: row.step_run})
    FOREACH (_ IN CASE WHEN row.written THEN [1] ELSE [] END | MERGE (sr)-[:WROTE]->(av))
    FOREACH (_ IN CASE WHEN row.written THEN [] ELSE [1] END | MERGE (sr)-[:READ]->(av))
  }
  CALL (av, row) {
    WITH av, row WHERE row.step_run IS NULL
    MATCH (r:Run {id: row.run})
    FOREACH (_ IN CASE WHEN row.written THEN [1] ELSE [] END | MERGE (r)-[:WROTE]->(av))
    FOREACH (_ IN CASE WHEN row.written THEN [] ELSE [1] END | MERGE (r)-[:READ]->(av))
  }
}
// -- priced_calls: cost of the calls above -------------------------------------------
CALL () {
  // Cost of each touched call: the reported figure, else an estimate from the price table
  // ($prices: 'provider/model' or 'provider/*' -> {input, output} USD per 1k tokens).
  UNWIND $batch.priced_calls AS id
  MATCH (c:LLMCall {id: id})
  WITH c, coalesce($prices[c.provider + '/' + c.model], $prices[c.provider + '/*']) AS price
  SET c.cost_usd = CASE
        WHEN c.cost_reported IS NOT NULL THEN c.cost_reported
        WHEN price IS NULL OR c.output_tokens IS NULL THEN null
        ELSE (coalesce(c.input_tokens, 0) * price.input + c.output_tokens * price.output) / 1000.0
      END,
      c.cost_estimated = c.cost_reported IS NULL AND price IS NOT NULL AND c.output_tokens IS NOT NULL
}
// -- total_runs: run tokens and cost -------------------------------------------------
CALL () {
  // Tokens and cost of runs are sums over their calls, recomputed for the touched runs so
  // any arrival order gives the same totals (summed in call-id order: float addition is
  // not associative).
  UNWIND $batch.total_runs AS run_id
  MATCH (r:Run {id: run_id})
  CALL (r) {
    OPTIONAL MATCH (c:LLMCall {run: r.id})
    WITH c ORDER BY c.id
    RETURN sum(coalesce(c.input_tokens, 0)) AS input_tokens,
           sum(coalesce(c.output_tokens, 0)) AS output_tokens,
           reduce(total = 0.0, x IN collect(coalesce(c.cost_usd, 0.0)) | total + x) AS cost_usd,
           count(CASE WHEN c.cost_estimated THEN 1 END) > 0 AS cost_estimated
  }
  SET r.input_tokens = input_tokens, r.output_tokens = output_tokens,
      r.cost_usd = cost_usd, r.cost_estimated = cost_estimated
}
// -- token_step_runs: step run tokens ------------------------------------------------
CALL () {
  // A step run's tokens: the larger of what it reported and what its calls used.
  UNWIND $batch.token_step_runs AS step_run_id
  MATCH (sr:StepRun {id: step_run_id})
  CALL (sr) {
    OPTIONAL MATCH (c:LLMCall {step_run: sr.id})
    WITH c ORDER BY c.id
    RETURN sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)) AS llm_tokens,
           reduce(total = 0.0, x IN collect(coalesce(c.cost_usd, 0.0)) | total + x) AS cost_usd
  }
  SET sr.llm_tokens = llm_tokens, sr.cost_usd = cost_usd,
      sr.tokens_used = CASE
        WHEN coalesce(sr.reported_tokens, 0) > llm_tokens THEN sr.reported_tokens
        ELSE llm_tokens END
}
