// Metrics benchmark graph, part 2: runs $from..$to-1, round-robin over the pipelines,
// spread evenly from $t0 every $gap_ms; each with $steps step runs (one in 20 failed)
// and two LLM calls (steps 0 and 5).
UNWIND range($from, $to - 1) AS i
WITH i, i % $pipelines AS p, $t0 + duration({milliseconds: i * $gap_ms}) AS t
MATCH (pl:Pipeline {name: 'mbench-' + p})
CREATE (r:Run {id: 'mrun-' + i, pipeline: pl.name, status: CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
               started_at: t, ended_at: t + duration({seconds: 100}), duration_ms: 100000,
               input_tokens: 200, output_tokens: 40, cost_usd: 0.002, cost_estimated: false})
SET r.order_key = right('0000000000000' + toString(t.epochMillis), 13) + '|' + r.id
CREATE (r)-[:OF]->(pl)
WITH i, p, t, r
UNWIND range(0, $steps - 1) AS k
MATCH (st:Step {id: 'mbench-' + p + '/s' + k})
CREATE (sr:StepRun {id: r.id + '/s' + k + '#1', run: r.id, step: 's' + k, attempt: 1,
                    pipeline: r.pipeline, status: CASE WHEN (i + k) % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
                    started_at: t + duration({seconds: 10 * k}), ended_at: t + duration({seconds: 10 * k + 1 + (i + k) % 9}),
                    duration_ms: 1000 * (1 + (i + k) % 9), provider: 'prov', model: 'model-' + (k % 3)})
CREATE (r)-[:HAS]->(sr)
CREATE (sr)-[:OF]->(st)
WITH i, k, r, sr, t
WHERE k IN [0, 5]
CREATE (c:LLMCall {id: r.id + '/c' + k, run: r.id, step_run: sr.id, pipeline: r.pipeline, step: sr.step,
                   provider: 'prov', model: 'model-' + (k % 3), input_tokens: 100, output_tokens: 20,
                   latency_ms: 200 + (i * 7 + k) % 800, cost_usd: 0.001, cost_estimated: i % 2 = 0,
                   sent_at: sr.started_at, received_at: sr.started_at + duration({milliseconds: 200 + (i * 7 + k) % 800})})
CREATE (sr)-[:MADE]->(c)
