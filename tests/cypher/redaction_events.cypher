// Stored events of a run with their scrubbed payloads and redaction counts.
MATCH (e:Event {run: $run})
RETURN e.id AS id, e.type AS type, e.payload AS payload, e.redactions AS redactions,
       e.redaction_kinds AS kinds
ORDER BY e.seq
