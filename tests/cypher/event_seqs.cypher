MATCH (e:Event)
RETURN e.seq AS seq
ORDER BY seq
