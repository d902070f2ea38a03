// `tracegraph rollups rebuild`, one page of events (store/rollups.py
// rebuild_page_in_tx): the next $limit after id $after. Those not counted yet (no
// `rolled` mark) are marked and counted — by source time, pipeline and step, as
// store/rollups.py event_contribution — summed per bucket (minute and hour): one row per
// bucket goes back to be applied. The mark's write lock makes it once across replicas.
MATCH (e:Event) WHERE e.id > $after
WITH e ORDER BY e.id LIMIT $limit
WITH collect(e) AS page
WITH page, size(page) AS visited,
     reduce(m = '', n IN page | CASE WHEN n.id > m THEN n.id ELSE m END) AS last_id
CALL (page) {
  UNWIND page AS e
  WITH e WHERE e.rolled IS NULL
  SET e.rolled = true
  WITH e.time.epochMillis AS t, [e.pipeline, e.step, null, null, null, null] AS d
  WHERE t IS NOT NULL
  UNWIND [['m', 60000], ['h', 3600000]] AS lv
  WITH lv[0] AS level, t - ((t % lv[1]) + lv[1]) % lv[1] AS start, d
  WITH level, start, d, count(*) AS n
  RETURN collect({level: level, t: start, dims: d, f: [n, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                  bins: []}) AS buckets
}
RETURN visited, last_id, [] AS stale, buckets
