// A redaction.policy_set event (an admin's setRedactionPolicy, from the log): the whole
// policy. `applied_seq` is the seq of the event the stored policy comes from: an event
// at or below it is already in force (a replay over a kept policy changes nothing), a
// newer one replaces it and moves the version on (replicas reload when it moves). A
// graph rebuilt from the log alone gets its policy from these events. The seq counter's
// lock (claim_events) serialises writers, so the read of the old rules is not raced.
MERGE (p:RedactionPolicy {id: $id})
WITH p, coalesce(p.applied_seq, 0) < $seq AS applies,
     p.builtins AS old_builtins, p.custom_rules AS old_custom_rules
FOREACH (_ IN CASE WHEN applies THEN [1] ELSE [] END |
  SET p.version = coalesce(p.version, 0) + 1,
      p.builtins = $builtins, p.custom_rules = $custom_rules,
      p.updated_at = datetime($at), p.updated_by = $actor, p.applied_seq = $seq)
RETURN applies, old_builtins, old_custom_rules, p.version AS version
