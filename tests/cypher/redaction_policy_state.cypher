// Test only: the stored redaction policy as the service reads it.
MATCH (p:RedactionPolicy)
RETURN p.id AS id, p.builtins AS builtins, p.custom_rules AS custom_rules,
       p.version AS version, toString(p.updated_at) AS updated_at, p.updated_by AS updated_by
