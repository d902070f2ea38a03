// Change requests by id (any order; the caller maps them back).
UNWIND $ids AS id
MATCH (c:ChangeRequest {id: id})
RETURN properties(c) AS request
