// An Event node at the next seq without its payload, as a wipe or replay (the node there,
// its payload not yet set) or a retention delete (its payload removed first) can show
// one to a reader: the live tailer and the replay of subscriptions must read past it.
MERGE (c:Sequence {name: 'event'})
  ON CREATE SET c.value = 0
SET c.value = c.value + 1
CREATE (e:Event {id: $id, seq: c.value, type: 'log', pipeline: $pipeline,
                 received_at: datetime(), fingerprint: 'none'})
RETURN e.seq AS seq
