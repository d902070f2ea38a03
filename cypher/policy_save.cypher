// An admin's change. The version increment comes first: it takes the node's write lock,
// so the previous rules read next are the ones this change replaces (no lost update).
MERGE (p:RedactionPolicy {id: $id})
SET p.version = coalesce(p.version, 0) + 1
WITH p, p.builtins AS old_builtins, p.custom_rules AS old_custom_rules
SET p.builtins = $builtins, p.custom_rules = $custom_rules,
    p.updated_at = datetime($at), p.updated_by = $actor
RETURN old_builtins, old_custom_rules, p.version AS version,
       toString(p.updated_at) AS updated_at, p.updated_by AS updated_by
