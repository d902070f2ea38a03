// A change.decided event (a reviewer's approval or rejection, from the log). Only a
// pending request is decided: of two decisions on one request (two replicas at once)
// the first in the log stands, and the second changes nothing. Returns a row only
// when this event decided it.
MATCH (c:ChangeRequest {id: $id})
WHERE c.state = 'pending'
SET c.state = $decision, c.reviewer = $actor, c.comment = $comment,
    c.decided_at = datetime($at), c.applied_seq = $applied_seq
RETURN c.state AS state
