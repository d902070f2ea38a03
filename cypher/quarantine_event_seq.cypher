// The seq of a stored event by its id (what a resolved quarantine entry points at).
MATCH (e:Event {id: $event_id})
RETURN e.seq AS seq
