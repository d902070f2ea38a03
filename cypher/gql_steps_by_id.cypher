UNWIND $ids AS id
MATCH (s:Step {id: id})
RETURN id, s { .id, .key, .name, .kind } AS s
