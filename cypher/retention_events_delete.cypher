// Retention: delete archived events (their ABOUT edge goes with them). One batch, one
// transaction; the seqs come in a map (one plan whatever the batch size).
UNWIND $batch.seqs AS seq
MATCH (e:Event {seq: seq})
DETACH DELETE e
RETURN count(*) AS deleted
