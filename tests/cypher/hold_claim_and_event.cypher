// What the planning after an outage waits for while this transaction is open: the
// event counter (the claim reserves seqs on it) and an event id (the batch apply
// creates that event; the id is unique).
MATCH (c:Sequence {name: 'event'})
SET c.value = c.value
CREATE (:Event {id: $id, seq: -1})
