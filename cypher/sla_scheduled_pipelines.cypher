// For the timer's missing-run check: pipelines with a cron schedule whose SLA bounds the
// start delay, one record each, with the start and scheduled times (epoch ms) of their
// runs that started or were scheduled since $since_ms (the lookback horizon). A pipeline
// with no such run still gets its record (runs: []): that is what a missing run looks like.
MATCH (p:Pipeline)-[:GOVERNED_BY]->(s:SLA)
WHERE p.schedule IS NOT NULL AND s.max_start_delay_ms IS NOT NULL
CALL (p) {
  CALL (p) {
    MATCH (r:Run)
    WHERE r.pipeline = p.name AND r.started_at >= datetime({epochMillis: $since_ms})
    RETURN r
    UNION
    MATCH (r:Run)
    WHERE r.pipeline = p.name AND r.scheduled_for >= datetime({epochMillis: $since_ms})
    RETURN r
  }
  RETURN collect({scheduled_for: r.scheduled_for.epochMillis,
                  started_at: r.started_at.epochMillis}) AS runs
}
RETURN p.name AS pipeline, p.schedule AS schedule, p.defined_at.epochMillis AS defined_at,
       properties(s) AS sla, runs
ORDER BY pipeline
