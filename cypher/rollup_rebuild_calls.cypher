// `tracegraph rollups rebuild`, one page of LLM calls (store/rollups.py
// rebuild_page_in_tx): the next $limit after id $after. Each is locked first (the SET
// below; the collect is the barrier), so a batch ingested meanwhile cannot move it
// between this read and the update. For those never counted (`rollup` empty) the
// contribution is computed here exactly as store/rollups.py computes it — figures, cost
// in nano-USD rounded half up, the sketch key of ddsketch's LogarithmicMapping
// (ceil(log2(v) * $multiplier) + $offset), the JSON text byte for byte as orjson writes
// it ($escape_from/$escape_to) — recorded, and summed per bucket (minute and hour) and
// sketch bin: one row per bucket goes back to be applied. Nodes whose recorded
// contribution differs from their figures come back as `stale` (moved by the difference
// in Python, as at ingest).
MATCH (c:LLMCall) WHERE c.id > $after
WITH c ORDER BY c.id LIMIT $limit
SET c.rollup = coalesce(c.rollup, '')
WITH collect(c) AS page
WITH page, size(page) AS visited,
     reduce(m = '', n IN page | CASE WHEN n.id > m THEN n.id ELSE m END) AS last_id
UNWIND page AS c
WITH visited, last_id, c, c.received_at.epochMillis AS t,
     [c.pipeline, c.step, c.provider, c.model, c.template, c.template_version] AS d,
     toInteger(floor(coalesce(c.cost_usd, 0.0) * 1.0e9 + 0.5)) AS cost, c.latency_ms AS v
WITH visited, last_id, c, t, d, v,
     [1, CASE WHEN c.error IS NULL THEN 0 ELSE 1 END, 0, 0, 0, 0,
      toInteger(coalesce(c.input_tokens, 0)), toInteger(coalesce(c.output_tokens, 0)),
      cost, CASE WHEN c.cost_estimated THEN cost ELSE 0 END] AS f
WITH visited, last_id, c, t, d, f,
     CASE WHEN v IS NULL THEN null
            WHEN abs(v) < $min_possible THEN [0, 0]
            ELSE [toInteger(sign(v)),
                  toInteger(ceil(log(toFloat(abs(v))) / log(2.0) * $multiplier) + $offset)] END AS b
WITH visited, last_id, c, t, d, f, b,
     '{"kind":"call","t":' + toString(t) + ',"d":[' + reduce(s = '', i IN range(0, size(d) - 1) |
         s + CASE WHEN i > 0 THEN ',' ELSE '' END
         + CASE WHEN d[i] IS NULL THEN 'null'
                WHEN d[i] IS :: INTEGER THEN toString(d[i])
                WHEN d[i] =~ '[^"\\\\\\u0000-\\u001f]*' THEN '"' + d[i] + '"'
                ELSE '"' + reduce(o = '', ch IN split(d[i], '') |
                                  o + coalesce(head([j IN range(0, size($escape_from) - 1)
                                                     WHERE $escape_from[j] = ch | $escape_to[j]]), ch))
                     + '"' END) + '],"f":['
     + reduce(s = '', i IN range(0, size(f) - 1) |
              s + CASE WHEN i > 0 THEN ',' ELSE '' END + toString(f[i]))
     + '],"b":' + CASE WHEN b IS NULL THEN 'null'
                       ELSE '[' + toString(b[0]) + ',' + toString(b[1]) + ']' END + '}' AS text
WITH visited, last_id, c, t, d, f, b, CASE WHEN t IS NULL THEN '' ELSE text END AS new
WITH visited, last_id, c, t, d, f, b, new,
     c.rollup = '' AND new <> '' AS fresh, c.rollup <> '' AND c.rollup <> new AS stale
SET c.rollup = CASE WHEN fresh THEN new ELSE c.rollup END
WITH visited, last_id,
     collect(CASE WHEN stale THEN c.id END) AS stale,
     collect(CASE WHEN fresh THEN {t: t, d: d, f: f, b: b} END) AS fresh
CALL (fresh) {
  UNWIND fresh AS x
  UNWIND [['m', 60000], ['h', 3600000]] AS lv
  // Floor modulo, as Python's %.
  WITH lv[0] AS level, x.t - ((x.t % lv[1]) + lv[1]) % lv[1] AS start, x.d AS d, x.f AS f,
       CASE WHEN x.b IS NULL THEN null ELSE x.b[1] * 4 + x.b[0] + 1 END AS code
  WITH level, start, d, code, count(*) AS hits,
       sum(f[0]) AS f0, sum(f[1]) AS f1, sum(f[2]) AS f2, sum(f[3]) AS f3, sum(f[4]) AS f4,
       sum(f[5]) AS f5, sum(f[6]) AS f6, sum(f[7]) AS f7, sum(f[8]) AS f8, sum(f[9]) AS f9
  WITH level, start, d,
       [sum(f0), sum(f1), sum(f2), sum(f3), sum(f4), sum(f5), sum(f6), sum(f7), sum(f8),
        sum(f9)] AS f,
       collect(CASE WHEN code IS NOT NULL THEN [code, hits] END) AS bins
  RETURN collect({level: level, t: start, dims: d, f: f, bins: bins}) AS buckets
}
RETURN visited, last_id, stale, buckets
