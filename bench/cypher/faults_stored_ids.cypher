// Which of $ids are stored (is every acknowledged event committed?).
UNWIND $ids AS id
MATCH (e:Event {id: id})
RETURN e.id AS id
