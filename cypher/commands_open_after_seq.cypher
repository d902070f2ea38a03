// What an executor missed (subscription or long-poll resume): commands of its pipelines
// after $after and up to $upto that still wait for an executor, in seq order.
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.pipelines AS name
MATCH (c:Command {pipeline: name})
WHERE c.seq > $after AND c.seq <= $upto AND c.state IN ['pending', 'delivered']
RETURN c {.*} AS command
ORDER BY c.seq
LIMIT $limit
