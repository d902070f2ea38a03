// Run documents (docs/live-deltas.md): each run with its step runs, their LLM calls and
// the artifact versions they read and wrote, and the run's streamed response chunks
// (only calls still waiting for their response use them, so only their step runs'
// chunks are read). One round trip for every run a snapshot or a live round needs.
// Temporal properties come back as RFC 3339 text.
// Chunks are read off the run's own events (ABOUT edges, anchored on the run), never
// the global log.
UNWIND $ids AS id
MATCH (r:Run {id: id})
CALL (r) {
  OPTIONAL MATCH (r)-[:HAS]->(sr:StepRun)
  WITH sr WHERE sr IS NOT NULL
  RETURN collect(sr {
    .id, .step, .attempt, .version, .status, .duration_ms, .percent, .tokens_used,
    .token_budget, .provider, .model, .error, .awaiting_approval,
    started_at: toString(sr.started_at), ended_at: toString(sr.ended_at),
    approvals: [(sr)-[:ASKED]->(a:Approval) | a {
      .id, .state, .question, .approvers, .timeout_s, .decided_by, .comment, .waiting_ms,
      requested_at: toString(a.requested_at), deadline: toString(a.deadline),
      decided_at: toString(a.decided_at)
    }],
    calls: [(sr)-[:MADE]->(c:LLMCall) | c {
      .id, .provider, .model, .template, .template_version, .prompt, .response,
      .input_tokens, .output_tokens, .latency_ms, .cost_usd,
      received: c.received_at IS NOT NULL
    }],
    reads: [(sr)-[:READ]->(a:ArtifactVersion) | a { .id, .uri, .version }],
    writes: [(sr)-[:WROTE]->(a:ArtifactVersion) | a { .id, .uri, .version }]
  }) AS step_runs
}
CALL (r, step_runs) {
  // Only chunks of step runs with a call still waiting for its response: the others'
  // are not in the document, and re-reading them on every change of a long stream
  // would cost O(n^2). No such step run: no expansion at all (collect of no rows: []).
  WITH r, [sr IN step_runs WHERE any(c IN sr.calls WHERE NOT c.received) | sr.id] AS streaming
  WHERE size(streaming) > 0
  MATCH (r)<-[:ABOUT]-(e)
  WHERE e.type = 'response.chunk'
    AND r.id + '/' + e.step + '#' + toString(coalesce(e.attempt, 1)) IN streaming
  RETURN collect(e.payload) AS chunks
}
RETURN id,
       r { .id, .pipeline, .version, .seq, .status, .duration_ms, .input_tokens,
           .output_tokens, .cost_usd, .cost_estimated, .error, .trigger,
           scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at),
           ended_at: toString(r.ended_at) } AS run,
       step_runs, chunks
