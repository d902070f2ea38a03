// Write-lock the SLAs whose success rates are judged, first in the transaction (a
// property set and removed: the lock, no change). Judgements of one SLA then run one
// after another on every replica, each reading what the ones before it committed, so
// the last judgement (which follows the last commit of an outcome) has the last word.
MATCH (s:SLA)
WHERE s.id IN $ids
SET s.rate_lock = true
REMOVE s.rate_lock
RETURN count(s) AS locked
