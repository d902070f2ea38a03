// Audit entries (keyed by id, so recording one twice is a no-op: replay-safe), each
// linked to the node it is about when that node exists. Targets are `<kind>:<key>`.
// The entries come in a map ($audit.entries): one plan whatever their number (Neo4j
// caches a plan per size range of a list parameter).
UNWIND $audit.entries AS e
MERGE (a:AuditEntry {id: e.id})
ON CREATE SET a.actor = e.actor, a.action = e.action, a.target = e.target,
              a.before = e.before, a.after = e.after, a.at = datetime(e.at),
              a.order_key = e.order_key
WITH a, e
CALL (e) {
  MATCH (n:Pipeline {name: e.target_key}) WHERE e.target_kind = 'pipeline'
  RETURN n
  UNION
  MATCH (n:Step {id: e.target_key}) WHERE e.target_kind = 'step'
  RETURN n
  UNION
  MATCH (n:SLABreach {id: e.target_key}) WHERE e.target_kind = 'breach'
  RETURN n
  UNION
  MATCH (n:ApiKey {id: e.target_key}) WHERE e.target_kind = 'api_key'
  RETURN n
  UNION
  MATCH (n:RedactionPolicy {id: e.target_key}) WHERE e.target_kind = 'policy'
  RETURN n
  UNION
  MATCH (n:Command {id: e.target_key}) WHERE e.target_kind = 'command'
  RETURN n
}
MERGE (a)-[:ON]->(n)
