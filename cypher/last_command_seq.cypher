OPTIONAL MATCH (c:Sequence {name: 'command'})
RETURN coalesce(c.value, 0) AS last
