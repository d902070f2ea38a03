// A seq taken and never stored: a hole in the event log, as a transaction that took a
// seq and did not commit its event can leave one where the seq is not rolled back with
// it (the live sequencer skips it after TRACEGRAPH_LIVE_GAP_HOLD_S, on evidence).
MERGE (c:Sequence {name: 'event'})
  ON CREATE SET c.value = 0
SET c.value = c.value + 1
RETURN c.value AS seq
