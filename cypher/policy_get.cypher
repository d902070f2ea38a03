// The stored redaction policy (a singleton), or no row when none was stored yet.
MATCH (p:RedactionPolicy {id: $id})
RETURN p.builtins AS builtins, p.custom_rules AS custom_rules, p.version AS version,
       toString(p.updated_at) AS updated_at, p.updated_by AS updated_by
