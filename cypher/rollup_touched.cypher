// The metric rollups' view of what a batch touched (store/rollups.py), read after the
// batch applied, in its transaction: each LLM call, step run and run with the figures
// the rollups count and the contribution it last added to them (`rollup`, JSON), so the
// rollups move by the difference. The batch's writes hold these nodes' locks whenever
// their figures changed, so no other writer moves them in between. Events are counted
// once: those not yet counted are marked (the mark's lock makes it exactly once across
// replicas, replays and `tracegraph rollups rebuild`). Events this transaction created
// (apply_batch marks them counted) are counted in Python from the batch: not read here.
// Each node comes with its element id: rollup_apply records its new contribution by
// that id (no second index seek).
CALL () {
  UNWIND $touched.calls AS id
  MATCH (c:LLMCall {id: id})
  RETURN collect({eid: elementId(c), rollup: c.rollup, pipeline: c.pipeline, step: c.step,
                  provider: c.provider, model: c.model, template: c.template,
                  template_version: c.template_version, t: c.received_at.epochMillis,
                  error: c.error IS NOT NULL, latency: c.latency_ms,
                  input_tokens: c.input_tokens, output_tokens: c.output_tokens,
                  cost: c.cost_usd, estimated: c.cost_estimated}) AS calls
}
CALL () {
  UNWIND $touched.step_runs AS id
  MATCH (sr:StepRun {id: id})
  RETURN collect({eid: elementId(sr), rollup: sr.rollup, pipeline: sr.pipeline, step: sr.step,
                  provider: sr.provider, model: sr.model, t: sr.started_at.epochMillis,
                  status: sr.status, duration: sr.duration_ms}) AS step_runs
}
CALL () {
  UNWIND $touched.runs AS id
  MATCH (r:Run {id: id})
  RETURN collect({eid: elementId(r), rollup: r.rollup, pipeline: r.pipeline,
                  t: r.started_at.epochMillis, status: r.status,
                  duration: r.duration_ms}) AS runs
}
CALL () {
  UNWIND $touched.events AS id
  MATCH (e:Event {id: id})
  WHERE e.rolled IS NULL
  SET e.rolled = true
  RETURN collect({pipeline: e.pipeline, step: e.step, t: e.time.epochMillis}) AS events
}
RETURN calls, step_runs, runs, events
