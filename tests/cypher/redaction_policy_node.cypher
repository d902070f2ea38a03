MATCH (p:RedactionPolicy)
RETURN p.id AS id, p.builtins AS builtins, p.custom_rules AS custom_rules, p.version AS version
