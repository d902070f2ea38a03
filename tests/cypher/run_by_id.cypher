MATCH (r:Run {id: $id})
RETURN r
