// One quarantined event by its quarantine id.
MATCH (q:Quarantined {id: $id})
RETURN q {.*} AS entry
