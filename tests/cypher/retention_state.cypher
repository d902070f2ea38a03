// Retention tests: what is left of each data class in the graph.
CALL () {
  MATCH (e:Event) WHERE e.type <> 'log' AND e.type <> 'pipeline.defined'
  RETURN count(e) AS activity_events
}
CALL () { MATCH (e:Event {type: 'log'}) RETURN count(e) AS log_events }
CALL () { MATCH (e:Event) WHERE e.text_removed RETURN count(e) AS text_removed_events }
CALL () {
  MATCH (c:LLMCall)
  WHERE c.prompt IS NOT NULL OR c.response IS NOT NULL OR c.prompt_messages IS NOT NULL
  RETURN count(c) AS calls_with_text
}
CALL () { MATCH (c:LLMCall) RETURN count(c) AS calls }
CALL () { MATCH (r:Run) RETURN count(r) AS runs }
CALL () { MATCH (r:Run) WHERE r.ended_at IS NOT NULL RETURN count(r) AS ended_runs }
CALL () { MATCH (r:Run) WHERE r.lineage_only RETURN count(r) AS lineage_runs }
RETURN activity_events, log_events, text_removed_events, calls_with_text, calls, runs,
       ended_runs, lineage_runs
