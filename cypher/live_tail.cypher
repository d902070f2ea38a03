// One tick of a replica's live tailer (live/hub.py), one round trip: the events and the
// LiveNotes after its cursors, in seq order (range seeks on the unique seq indexes),
// and where both counters stand now. A counter below the cursor means the log was
// wiped (tests, `tracegraph wipe`): the tailer starts again from it.
// Events logged first after an outage (label Underived) are not read: they go live once
// derived (the catch-up publishes them on its replica, the other tailers read them
// then). They are the newest part of the log, so the page stops before the first one.
// An Event without its payload (a wipe or replay under way, a retention delete that took
// it out first) is not read either: nothing to deliver, and its seq is a hole the
// sequencer passes once a read that began after it showed answered without it.
OPTIONAL MATCH (ce:Sequence {name: 'event'})
OPTIONAL MATCH (cn:Sequence {name: 'live_note'})
WITH coalesce(ce.value, 0) AS last_event, coalesce(cn.value, 0) AS last_note
CALL () {
  OPTIONAL MATCH (u:Underived)
  RETURN min(u.seq) AS first_underived
}
CALL (first_underived) {
  MATCH (e:Event)
  WHERE e.seq > $after_seq AND (first_underived IS NULL OR e.seq < first_underived)
    AND e.payload IS NOT NULL
  WITH e ORDER BY e.seq LIMIT $limit
  RETURN collect({seq: e.seq, payload: e.payload, fingerprint: e.fingerprint,
                  received_at: e.received_at, principal: e.principal}) AS events
}
CALL () {
  MATCH (n:LiveNote)
  WHERE n.seq > $after_note
  WITH n ORDER BY n.seq LIMIT $limit
  RETURN collect({seq: n.seq, origin: n.origin, breaches: n.breaches,
                  alerts: n.alerts}) AS notes
}
RETURN last_event, last_note, events, notes
