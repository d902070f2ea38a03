// The first start stores the configured policy; afterwards the stored one wins.
MERGE (p:RedactionPolicy {id: $id})
  ON CREATE SET p.builtins = $builtins, p.custom_rules = $custom_rules, p.version = 1,
                p.updated_at = datetime($at), p.updated_by = $actor
RETURN p.builtins AS builtins, p.custom_rules AS custom_rules, p.version AS version,
       toString(p.updated_at) AS updated_at, p.updated_by AS updated_by
