UNWIND $ids AS id
MATCH (r:Run {id: id})
RETURN id, properties(r) AS r
