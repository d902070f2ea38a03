// `tracegraph rollups rebuild`, one page: the next $limit nodes of one label after
// $after (id order; Event in seq order), with the figures rollup_touched reads. Each is
// written (its `rollup` kept, an empty one if none) so this transaction holds its lock: a batch
// ingested meanwhile cannot move it between this read and the rollup update.
CALL () {
  WITH 1 AS one WHERE $label = 'LLMCall'
  MATCH (c:LLMCall) WHERE c.id > $after
  WITH c ORDER BY c.id LIMIT $limit
  SET c.rollup = coalesce(c.rollup, '')
  RETURN c.id AS id
  UNION ALL
  WITH 1 AS one WHERE $label = 'StepRun'
  MATCH (sr:StepRun) WHERE sr.id > $after
  WITH sr ORDER BY sr.id LIMIT $limit
  SET sr.rollup = coalesce(sr.rollup, '')
  RETURN sr.id AS id
  UNION ALL
  WITH 1 AS one WHERE $label = 'Run'
  MATCH (r:Run) WHERE r.id > $after
  WITH r ORDER BY r.id LIMIT $limit
  SET r.rollup = coalesce(r.rollup, '')
  RETURN r.id AS id
  UNION ALL
  WITH 1 AS one WHERE $label = 'Event'
  MATCH (e:Event) WHERE e.id > $after
  WITH e ORDER BY e.id LIMIT $limit
  RETURN e.id AS id
}
RETURN collect(id) AS ids
