// Test only: the stored redaction policy minus its change counter (which also counts the
// seed at first start, not an event).
MATCH (p:RedactionPolicy)
RETURN p.id AS id, p.builtins AS builtins, p.custom_rules AS custom_rules,
       toString(p.updated_at) AS updated_at, p.updated_by AS updated_by
