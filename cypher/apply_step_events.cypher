// step.* events and every other event that happens inside a step run (artifact, prompt,
// response, progress): the step run and its run are created on the spot if unseen, and
// at least 'running' once anything happened inside them. Same status rules as runs.
// One row per step run: graph_rows folds a batch's events first.
UNWIND $rows AS row
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
SET sr.status = CASE WHEN wins THEN row.status ELSE sr.status END,
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
