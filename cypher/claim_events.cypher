// The start of every ingest write, in one round trip: which of the batch's event ids
// are stored already (with their content fingerprints), and sequence numbers for the
// others. $ids are distinct, so each id not stored is exactly one new event. The write
// lock on the counter node is held until commit, so seq order is commit order across
// every writer, in any replica; a batch with nothing new takes no lock.
// The ids come in a map ($claim.ids), not as a list parameter: Neo4j caches one plan per
// size range of a list parameter (1, 2-10, 11-100, 101-1000, ...), so a list planned a
// statement again for each new batch size; after a restart the planning ahead (one
// event) then left the first real batch to plan the claim cold (8-11 s measured).
UNWIND $claim.ids AS id
OPTIONAL MATCH (e:Event {id: id})
WITH collect(CASE WHEN e IS NOT NULL THEN [id, e.fingerprint] END) AS known,
     count(*) - count(e) AS reserved
CALL (reserved) {
  WITH reserved WHERE reserved > 0
  MERGE (c:Sequence {name: 'event'})
    ON CREATE SET c.value = 0
  SET c.value = c.value + reserved
}
OPTIONAL MATCH (c:Sequence {name: 'event'})
// Whether events logged first after an outage still wait for their derivation: read
// after the counter's lock is taken, so a batch sequenced after them sees them and is
// logged first too (the derived events are always a prefix of the log).
RETURN known, reserved, coalesce(c.value, 0) AS last,
       EXISTS { MATCH (:Underived) } AS underived
