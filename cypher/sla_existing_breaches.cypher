// Which of these breach ids exist (a read before retracting, so the common case of
// nothing to retract never takes the ingest writer's turn).
UNWIND $ids AS id
MATCH (b:SLABreach {id: id})
RETURN b.id AS id
