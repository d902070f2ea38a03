// A change.decided event (a reviewer's approval or rejection, from the log). Only a
// pending request is decided: of two decisions on one request (two replicas at once)
// the first in the log stands, and the second changes nothing. An approval is committed
// with the change's own event ($applied_event, earlier in the same transaction and the
// log), whose seq it records. Returns a row only when this event decided it.
MATCH (c:ChangeRequest {id: $id})
WHERE c.state = 'pending'
OPTIONAL MATCH (e:Event {id: $applied_event})
SET c.state = $decision, c.reviewer = $actor, c.comment = $comment,
    c.decided_at = datetime($at), c.applied_seq = e.seq
RETURN c.state AS state
