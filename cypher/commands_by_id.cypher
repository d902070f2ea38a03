UNWIND $ids AS id
MATCH (c:Command {id: id})
RETURN c {.*} AS command
