MATCH (e:Event {pipeline: $pipeline})
RETURN e.seq AS seq
ORDER BY seq
