// Which of these event ids are already stored, and with what content fingerprint.
UNWIND $ids AS id
MATCH (e:Event {id: id})
RETURN e.id AS id, e.fingerprint AS fingerprint
