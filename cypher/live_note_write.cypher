// A LiveNote: breach changes and SLA alerts one replica made, for the live hubs of the
// others (live/hub.py; events need none, the hubs tail the event log). Its seq comes
// from a counter whose write lock is held until commit, so seq order is commit order
// and a tailer reading `seq > cursor` never skips one. Notes older than the last
// $keep are deleted by the writer (a range read on the seq index): only a live relay.
MERGE (c:Sequence {name: 'live_note'})
  ON CREATE SET c.value = 0
SET c.value = c.value + 1
CREATE (:LiveNote {seq: c.value, origin: $origin, breaches: $breaches, alerts: $alerts,
                   at: datetime()})
WITH c.value - $keep AS horizon
CALL (horizon) {
  MATCH (old:LiveNote) WHERE old.seq <= horizon
  WITH old LIMIT 100
  DELETE old
}
RETURN horizon
