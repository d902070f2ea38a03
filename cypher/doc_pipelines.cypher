// Pipeline card documents (docs/live-deltas.md): each pipeline with its owner, SLA,
// defined steps (owner, upstream step ids) and its newest runs (as Pipeline.runs orders
// them: order_key descending, the run_pipeline_order index) with their step runs'
// scalar fields. One round trip for every card a snapshot or a live round needs.
UNWIND $names AS name
MATCH (p:Pipeline {name: name})
CALL (p) {
  MATCH (r:Run)
  WHERE r.pipeline = p.name AND r.order_key < '~'
  WITH r ORDER BY r.order_key DESC
  LIMIT $runs
  RETURN collect({
    run: r { .id, .pipeline, .version, .status, .duration_ms, .input_tokens,
             .output_tokens, .cost_usd, .cost_estimated, .error, .trigger,
             scheduled_for: toString(r.scheduled_for), started_at: toString(r.started_at),
             ended_at: toString(r.ended_at) },
    step_runs: [(r)-[:HAS]->(sr:StepRun) | sr {
      .id, .step, .attempt, .version, .status, .duration_ms, .percent, .tokens_used,
      .token_budget, .provider, .model, .error, .awaiting_approval,
      started_at: toString(sr.started_at), ended_at: toString(sr.ended_at) }]
  }) AS runs
}
RETURN name,
       p { .name, .version, .card_version, .card_seq } AS pipeline,
       head([(p)-[:OWNED_BY]->(o:Owner) | properties(o)]) AS owner,
       head([(p)-[:GOVERNED_BY]->(s:SLA) | properties(s)]) AS sla,
       [(p)-[:HAS_STEP]->(st:Step) | st {
         .id, .key, .name, .kind,
         owner: head([(st)-[:OWNED_BY]->(o:Owner) | properties(o)]),
         depends_on: [(st)-[:DEPENDS_ON]->(d:Step) | d.id] }] AS steps,
       runs
