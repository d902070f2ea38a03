// Audit entries, linked to the node they are about when it exists.
UNWIND $entries AS e
CREATE (a:AuditEntry {
  id: e.id, actor: e.actor, action: e.action, target: e.target,
  before: e.before, after: e.after, at: datetime(e.at)
})
WITH a, e
CALL (a, e) {
  OPTIONAL MATCH (k:ApiKey {id: e.target_key}) WHERE e.target_kind = 'api_key'
  WITH a, k WHERE k IS NOT NULL
  MERGE (a)-[:ON]->(k)
}
