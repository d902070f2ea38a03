// The stored redaction policy's version: replicas poll it and reload when it moved.
MATCH (p:RedactionPolicy {id: $id})
RETURN p.version AS version
