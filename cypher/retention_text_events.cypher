// Text retention: the oldest prompt/response events received before the cutoff whose
// payload still holds its text, as whole log rows (the archive keeps the original).
MATCH (e:Event)
WHERE e.received_at < datetime($cutoff) AND e.type IN $types AND NOT e:Underived
  AND e.text_removed IS NULL
WITH e ORDER BY e.received_at, e.seq
LIMIT $limit
RETURN e.seq AS seq, e.id AS id, e.type AS type, toString(e.time) AS time,
       toString(e.received_at) AS received_at, e.source AS source, e.pipeline AS pipeline,
       e.run AS run, e.step AS step, e.attempt AS attempt, e.payload AS payload,
       e.fingerprint AS fingerprint, e.principal AS principal, e.redactions AS redactions,
       e.redaction_kinds AS redaction_kinds, false AS text_removed
