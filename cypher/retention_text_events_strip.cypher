// Text retention: the payloads without their text (archived first), marked so the next
// pass skips them and replay from the archive knows to take the original back.
UNWIND $batch.rows AS row
MATCH (e:Event {seq: row.seq})
SET e.payload = row.payload, e.text_removed = true
RETURN count(*) AS stripped
