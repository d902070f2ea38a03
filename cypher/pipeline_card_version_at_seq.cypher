// How many events of a pipeline (any of its runs, its own) the log held at a seq: the
// pipeline card's version as of that seq. Seeks the (pipeline, time) index on the name.
MATCH (e:Event)
USING INDEX e:Event(pipeline, time)
WHERE e.pipeline = $pipeline AND e.time IS NOT NULL AND e.seq <= $as_of_seq
RETURN count(e) AS events
