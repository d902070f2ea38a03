// Retention (docs/retention.md): the oldest events of the given types received before
// the cutoff, as whole log rows for the archive. Walks the Event(received_at) index.
// Events not derived yet (logged first after an outage) wait: the catch-up needs them.
MATCH (e:Event)
WHERE e.received_at < datetime($cutoff) AND e.type IN $types AND NOT e:Underived
WITH e ORDER BY e.received_at, e.seq
LIMIT $limit
RETURN e.seq AS seq, e.id AS id, e.type AS type, toString(e.time) AS time,
       toString(e.received_at) AS received_at, e.source AS source, e.pipeline AS pipeline,
       e.run AS run, e.step AS step, e.attempt AS attempt, e.payload AS payload,
       e.fingerprint AS fingerprint, e.principal AS principal, e.redactions AS redactions,
       e.redaction_kinds AS redaction_kinds, coalesce(e.text_removed, false) AS text_removed
