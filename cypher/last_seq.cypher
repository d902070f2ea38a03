OPTIONAL MATCH (c:Sequence {name: 'event'})
RETURN coalesce(c.value, 0) AS last
