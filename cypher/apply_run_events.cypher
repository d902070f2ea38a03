// run.* events. Status only moves forward (rank: scheduled 0, running 1, terminal 2);
// between terminal events the later time wins, ties to the later seq.
UNWIND $rows AS row
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
    r.status = CASE WHEN wins THEN row.status ELSE r.status END,
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
