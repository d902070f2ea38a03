// A change.requested event (a gated change held for review, from the log): the pending
// ChangeRequest. Keyed by the request's id, so applying the event again is a no-op.
MERGE (c:ChangeRequest {id: $request.id})
ON CREATE SET c += $request, c.state = 'pending', c.created_at = datetime($at)
RETURN c.id AS id
