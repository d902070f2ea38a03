// The catch-up after an outage: the oldest events logged first and not derived yet, in
// seq order. The lock on the derivation's own counter node is taken first and held
// until commit, so two replicas never derive the same events (the second reads after
// the first committed, and finds them derived).
MERGE (lock:Sequence {name: 'derivation'})
  ON CREATE SET lock.value = 0
SET lock.value = lock.value + 1
WITH lock
MATCH (e:Underived)
WITH e ORDER BY e.seq
LIMIT $limit
RETURN e.seq AS seq, e.payload AS payload, e.fingerprint AS fingerprint,
       e.received_at AS received_at, e.principal AS principal,
       e.redactions AS redactions, e.redaction_kinds AS redaction_kinds
